"""Dask distributed, the peer a user would pick instead: a LocalCluster with one
single-threaded worker process per femto executor, started and warmed before timing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def dask_client(workers: int) -> Iterator[Any]:
    """A Client of a fresh LocalCluster; both closed when the block ends."""
    # Imported here: the bench extra brings dask, and the other benchmarks run without it.
    from dask.distributed import Client, LocalCluster

    # Dask's scheduler runs in this process and logs each worker's comings and goings.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(workers)
        yield client
