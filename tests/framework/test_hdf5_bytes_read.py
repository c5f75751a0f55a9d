"""A histogram over a 1 GiB HDF5 dataset reads each byte at most once: the executors read
their own rows in place, nothing more (measured from /proc/<pid>/io of each executor)."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import psutil

from tests.framework.helpers import running_service, submit, wait_done

ROWS = 2**27  # float64: 1 GiB
WRITE = 2**24  # rows per write, so the test never holds the whole array
BINS, RANGE = 64, (0.0, 1.0)


def executors() -> dict[int, int]:
    """Bytes each executor process (a descendant of this one) has read so far: rchar, which
    counts reads served from the page cache too, where read_bytes would count only disk."""
    read = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if "femto.executor" in child.cmdline():
                read[child.pid] = child.io_counters().read_chars
        except psutil.NoSuchProcess:
            continue
    return read


def write(path: Path) -> np.ndarray:
    """1 GiB of uniform floats in one contiguous dataset; returns NumPy's histogram of it."""
    rng = np.random.default_rng(17)
    counts = np.zeros(BINS, dtype=np.int64)
    with h5py.File(path, "w") as f:
        values = f.create_dataset("/events/energy", shape=(ROWS,), dtype="f8")
        for start in range(0, ROWS, WRITE):
            chunk = rng.random(WRITE)
            values[start:start + WRITE] = chunk
            counts += np.histogram(chunk, BINS, RANGE)[0]
    return counts


def test_a_histogram_over_1_gib_of_hdf5_reads_each_byte_at_most_once(tmp_path: Path) -> None:
    assert shutil.disk_usage(tmp_path).free > 4 * 2**30, "needs 1 GiB of free disk and room"
    root = tmp_path / "data"
    root.mkdir()
    expected = write(root / "events.h5")
    with running_service(tmp_path / "femto", data_roots=[root]) as (_, api):
        # A small job first, so the executors are up and have imported h5py: what they
        # read starting is not the histogram's.
        with h5py.File(root / "warm.h5", "w") as f:
            f.create_dataset("/x", data=np.arange(64.0))
        for name, file, path, k in (("warm", "warm.h5", "/x", 8),
                                    ("events", "events.h5", "/events/energy", 16)):
            response = api.post("/v1/datasets", json={
                "name": name, "format": "hdf5", "uri": (root / file).as_uri(), "path": path,
                "partitions": k})
            assert response.status_code == 201, response.text
        warm = submit(api, {"name": "warm", "operation": "count", "inputs": ["warm"]})
        assert wait_done(api, warm["id"])["state"] == "FINISHED"

        before = executors()
        job = submit(api, {"name": "h", "operation": "histogram", "inputs": ["events"],
                           "params": {"bins": BINS, "range": list(RANGE)},
                           "resources": {"cpus": 0.5, "mem": 256}})
        done = wait_done(api, job["id"], timeout=300)
        after = executors()

    assert done["state"] == "FINISHED", done
    assert done["result"]["counts"] == expected.tolist()
    read = sum(n - before.get(pid, 0) for pid, n in after.items())
    size = ROWS * 8
    # At least the data (else this measured the wrong processes), at most once, plus the
    # files' headers and whatever an executor that started meanwhile read to import itself.
    assert size <= read <= size + 64 * 2**20, f"executors read {read:,} bytes of {size:,}"
