"""`histogram` over float64 data in 32 partitions: femto beside the peers that read the
same .npy partition files (a memory-mapping multiprocessing.Pool, the practical ideal
here, and Dask distributed), beside the physical limit (NumPy in one process divided by
the core count), and beside the pickling Pool kept from the first round."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from bench.cluster import expect, femto, run_job
from bench.dask_peer import dask_client

PARTITIONS = 32
WORKERS = 2  # femto's executor processes: one per agent
BINS = 50
RANGE = (0.0, 100.0)
SEED = 20240601
# Each side runs this many times and reports its median: one run of a 0.2 s job on a
# shared 2-core machine swings by 20%.
REPEATS = 3


def generate(n: int) -> np.ndarray:
    """Deterministic input: transverse-momentum-like values, partly outside the range."""
    return np.random.default_rng(SEED).normal(50.0, 30.0, n)


def partition_counts(part: np.ndarray) -> np.ndarray:
    return np.histogram(part, BINS, RANGE)[0]


def file_counts(path: str) -> np.ndarray:
    """One partition's counts from its file, memory-mapped as femto's executors read it."""
    return partition_counts(np.load(path, mmap_mode="r"))


def write_partitions(data: np.ndarray, directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, part in enumerate(np.array_split(data, PARTITIONS)):
        path = directory / f"part-{i:02d}.npy"
        np.save(path, part, allow_pickle=False)
        paths.append(str(path))
    return paths


def timed(run: Callable[[], Any]) -> tuple[list[float], Any]:
    """REPEATS wall times of `run()`, and what its last run returned."""
    times, value = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - start)
    return times, value


def measure_numpy(data: np.ndarray) -> tuple[list[float], np.ndarray]:
    return timed(lambda: partition_counts(data))


def measure_pool(items: list[Any], task: Callable[[Any], np.ndarray]
                 ) -> tuple[list[float], np.ndarray]:
    """Wall times of mapping `task` over the items on a started Pool, counts summed."""
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        pool.map(task, items[:WORKERS], chunksize=1)  # warm: workers up
        return timed(lambda: np.sum(pool.map(task, items, chunksize=1), axis=0))


def measure_dask(paths: list[str]) -> tuple[list[float], np.ndarray]:
    with dask_client(WORKERS) as client:
        client.gather(client.map(file_counts, paths[:WORKERS], pure=False))  # warm

        def run() -> np.ndarray:
            return np.sum(client.gather(client.map(file_counts, paths, pure=False)), axis=0)

        return timed(run)


def measure_femto(paths: list[str], state_dir: Path) -> dict[str, Any]:
    spec = {"name": "bench-histogram", "operation": "histogram",
            "params": {"bins": BINS, "range": list(RANGE)}, "inputs": ["events"],
            "resources": {"cpus": 0.5, "mem": 128}, "max_retries": 0}
    root = Path(paths[0]).parent
    with femto(state_dir, data_roots=[root]) as client:
        # The files are on every agent of this one machine: each is named local to one of
        # the embedded agents in turn, so delay scheduling has a host to honour.
        partitions = [{"uri": Path(p).as_uri(), "host": f"agent-{i % WORKERS + 1}",
                       "length": int(np.load(p, mmap_mode="r").shape[0])}
                      for i, p in enumerate(paths)]
        expect(client.post("/v1/datasets", json={"name": "events", "dtype": "float64",
                                                  "partitions": partitions}), 201)
        # A warm-up run starts both executors and reads the files once, as every peer
        # is warmed, so the measured runs find processes up and the pages cached.
        run_job(client, {**spec, "name": "bench-warm-up"}, 600.0)
        walls, counts = [], []
        for _ in range(REPEATS):
            wall, job = run_job(client, spec, 600.0)
            walls.append(wall)
            counts.append(job["result"]["counts"])
    if any(c != counts[0] for c in counts):
        raise RuntimeError("repeated runs of the histogram job disagree")
    return {"wall_s": median(walls), "runs_s": walls, "counts": counts[0]}


def measure_size(n: int, workdir: Path) -> dict[str, Any]:
    data = generate(n)
    paths = write_partitions(data, workdir / f"parts-{n}")
    numpy_runs, expected = measure_numpy(data)
    sides = {
        "mmap_pool": measure_pool(paths, file_counts),
        "dask": measure_dask(paths),
        "pickling_pool": measure_pool(np.array_split(data, PARTITIONS), partition_counts),
    }
    result = measure_femto(paths, workdir / f"femto-{n}")
    if result.pop("counts") != expected.tolist() or any(
            counts.tolist() != expected.tolist() for _, counts in sides.values()):
        raise RuntimeError("histogram counts differ from NumPy's")
    cores = os.cpu_count() or 1
    numpy_s = median(numpy_runs)
    peer: dict[str, Any] = {f"{k}_s": median(runs) for k, (runs, _) in sides.items()}
    peer.update({f"{k}_runs_s": runs for k, (runs, _) in sides.items()})
    peer.update({"numpy_s": numpy_s, "numpy_runs_s": numpy_runs, "cores": cores,
                 "limit_s": numpy_s / cores})
    for f in paths:
        os.unlink(f)
    return {"elements": n, **result, "peer": peer}


def run_data_job(sizes: list[int], workdir: Path) -> dict[str, Any]:
    return {
        "partitions": PARTITIONS, "bins": BINS, "range": list(RANGE), "repeats": REPEATS,
        "workers": WORKERS, "statistic": "median of the repeats, each side",
        "runs": [measure_size(n, workdir) for n in sizes],
        "includes": "femto: POST /v1/jobs to FINISHED (polled every 10 ms) over the "
                    "partition files registered in place, executors started and pages "
                    "cached by a warm-up run",
        "peer_includes": "mmap_pool and dask: each worker memory-maps the same partition "
                         "files (one task a file); pickling_pool: the partitions pickled to "
                         "the workers; limit: np.histogram of the whole in-memory array in "
                         "one process, divided by the core count",
    }
