"""Scheduler RSS growth with 100,000 tasks queued, beside a list of as many small dicts.

The scheduler is `femto serve` against `python -m localmesos` whose agents are too
small for the tasks (and for femto's executor), so every task stays queued while
offers keep arriving, as in a cluster that is full.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.cluster import expect
from bench.processes import child, free_port, wait_http, wait_leading
from bench.stats import ratio

TARGET_BYTES_PER_TASK = 600.0  # issue 19
SETTLE_S = 1.0  # let the engine's first offer round over the new tasks happen
# The API takes JSON bodies up to 1 MB: the tasks come as several datasets and jobs.
TASKS_PER_JOB = 10_000


def chunks(n: int, size: int) -> list[int]:
    """n split into parts of `size`, the last one smaller."""
    return [min(size, n - start) for start in range(0, n, size)]


def registration(name: str, partitions: int) -> dict[str, Any]:
    """A dataset of `partitions` one-element files on an agent (never read: nothing runs)."""
    return {"name": name, "dtype": "float64", "partitions": [
        {"uri": f"file:///nonexistent/{i}", "host": "bench-host", "length": 1}
        for i in range(partitions)]}


def spec(name: str) -> dict[str, Any]:
    # More than an agent has: the tasks can never be placed.
    return {"name": name, "operation": "noop", "inputs": [name],
            "resources": {"cpus": 1.0, "mem": 1}}


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def dicts_growth(n: int) -> int:
    """RSS growth of this process holding n small dicts shaped like a queued task."""
    before = rss_self()
    tasks = [{"job_id": "3f0c2a4e-8d1b-4c55-9a77-0e6b2f1d9c10", "partition": i,
              "state": "PENDING", "attempts": []} for i in range(n)]
    grown = rss_self() - before
    del tasks
    return grown


def rss_self() -> int:
    return int(psutil.Process().memory_info().rss)


def measure_peer(n: int) -> int:
    """dicts_growth in a fresh interpreter, so this process's heap does not skew it."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return int(pool.apply(dicts_growth, (n,)))


def measure_femto(n: int, workdir: Path) -> dict[str, Any]:
    mesos_port, api_port = free_port(), free_port()
    url = f"http://127.0.0.1:{api_port}"
    mesos = [sys.executable, "-m", "localmesos", "--listen", f"127.0.0.1:{mesos_port}",
             "--agents", "2", "--cpus", "0.5", "--mem", "64"]
    serve = [sys.executable, "-m", "femto", "serve", "--master",
             f"127.0.0.1:{mesos_port}", "--listen", f"127.0.0.1:{api_port}",
             "--state-dir", str(workdir / "state"), "--data-root", "/nonexistent"]
    with child(mesos, workdir / "localmesos.log") as mesos_proc:
        wait_http(f"http://127.0.0.1:{mesos_port}/master/state", mesos_proc,
                  workdir / "localmesos.log")
        with child(serve, workdir / "femto-serve.log") as proc, httpx.Client(
            base_url=url, timeout=300.0
        ) as client:
            wait_leading(url, proc, workdir / "femto-serve.log")
            # Warm-up: the same code paths once, so imports and caches are in the baseline.
            expect(client.post("/v1/datasets", json=registration("warm", 2)), 201)
            expect(client.post("/v1/jobs", json=spec("warm")), 201)
            time.sleep(SETTLE_S)
            before = rss(proc.pid)
            sizes = chunks(n, TASKS_PER_JOB)
            for i, size in enumerate(sizes):
                expect(client.post("/v1/datasets", json=registration(f"q{i}", size)), 201)
            with_dataset = rss(proc.pid)
            ids = [expect(client.post("/v1/jobs", json=spec(f"q{i}")), 201)["id"]
                   for i in range(len(sizes))]
            time.sleep(SETTLE_S)
            queued = sum(expect(client.get(f"/v1/jobs/{job_id}"), 200)["tasks"]["pending"]
                         for job_id in ids)
            after = rss(proc.pid)
    if queued != n:
        raise RuntimeError(f"expected {n} queued tasks, the jobs show {queued}")
    return {"tasks": n, "rss_before": before, "rss_with_dataset": with_dataset,
            "rss_after": after, "bytes_per_task": (after - before) / n,
            "job_bytes_per_task": (after - with_dataset) / n}


def run_memory(n: int, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    result = measure_femto(n, workdir)
    peer_bytes = measure_peer(n)
    return {
        **result,
        "includes": f"RSS of the femto serve process after registering datasets of n "
                    f"partitions in all and submitting a noop job over each ({TASKS_PER_JOB} "
                    "tasks a job, none placeable), minus its RSS before; job_bytes_per_task "
                    "leaves out the datasets",
        "peer": {"bytes_per_task": peer_bytes / n,
                 "what": "RSS growth of a fresh Python holding a list of n dicts "
                         "{job_id, partition, state, attempts: []}"},
        "ratio": ratio(result["bytes_per_task"], peer_bytes / n),
        "target": {"bytes_per_task": TARGET_BYTES_PER_TASK,
                   "met": result["bytes_per_task"] <= TARGET_BYTES_PER_TASK},
    }
