"""No-op tasks on the embedded cluster beside Dask distributed and multiprocessing.Pool
running the same no-ops, each with as many worker processes as femto has executors.

Every side reports the end-to-end rate (all tasks / wall time) and the steady-state
rate (completions between the 10th and 90th percentile of completion times), and
`overhead_ms_per_task` = 1000/steady rate minus the no-op's own time / workers.
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.cluster import expect, femto, run_job, upload
from bench.cpu import spent, tree_cpu_seconds
from bench.dask_peer import dask_client
from bench.stats import overhead_ms, ratio, steady_rate
from femto.jobs.operations import Context
from femto.jobs.operations.noop import Noop, NoopParams

# Two agents, each running one executor process: the peer gets as many processes.
WORKERS = 2
PARTITION = np.zeros(1)
OVERHEAD_DEFINITION = (
    "1000 / steady tasks/s - (in-process time of one no-op) / workers; steady = "
    "completions between the 10th and 90th percentile of completion times"
)


def noop_task(index: int) -> float:
    """The work of one task, as femto's executor runs it; returns when it ended."""
    Noop().map([PARTITION], NoopParams(), Context())
    return time.time()


def noop_seconds(repeat: int = 10_000) -> float:
    """The no-op's own cost per call in this process (the 'work' of a task)."""
    start = time.perf_counter()
    for i in range(repeat):
        noop_task(i)
    return (time.perf_counter() - start) / repeat


def figures(n: int, wall: float, completions: list[float], work: float,
            cpu: dict[str, float]) -> dict[str, Any]:
    rate = steady_rate(completions)
    return {
        "tasks": n, "wall_s": wall, "tasks_per_s": n / wall,
        "cpu_ms_per_task": 1000.0 * (sum(cpu.values()) / n - work),
        "cpu_ms_per_task_by_process": {role: 1000.0 * s / n for role, s in cpu.items()},
        "steady_tasks_per_s": rate,
        "overhead_ms_per_task": overhead_ms(rate, work, WORKERS),
        "end_to_end_overhead_ms_per_task": overhead_ms(n / wall, work, WORKERS),
    }


def completion_times(tasks: list[dict[str, Any]]) -> list[float]:
    """When each task's finishing attempt ended (epoch seconds, millisecond precision)."""
    ends = []
    for task in tasks:
        finished = [a for a in task["attempts"] if a["state"] == "TASK_FINISHED"]
        ends.append(datetime.fromisoformat(finished[0]["ended"]).timestamp())
    return ends


def measure_femto(n: int, state_dir: Path, work: float) -> dict[str, Any]:
    spec = {"name": "bench-noop", "operation": "noop", "inputs": ["noop"],
            "resources": {"cpus": 0.01, "mem": 1}, "max_retries": 0}
    with femto(state_dir, agent_cpus=8.0, agent_mem=8192.0) as client:
        upload(client, "warm", np.zeros(WORKERS * 4), WORKERS * 4)
        upload(client, "noop", np.zeros(n), n)
        # A warm-up job starts both executors, so the measured job finds them running.
        run_job(client, {**spec, "name": "bench-warm-up", "inputs": ["warm"]}, 120.0)
        cpu = tree_cpu_seconds()
        wall, job = run_job(client, spec, 600.0)
        cpu = spent(cpu, tree_cpu_seconds())
        if job["result"] != {"tasks": n}:
            raise RuntimeError(f"noop job result {job['result']}, expected {n} tasks")
        tasks = expect(client.get(f"/v1/jobs/{job['id']}/tasks"), 200)
    return {**figures(n, wall, completion_times(tasks), work, cpu),
            "agents": 2, "executor_processes": WORKERS,
            "includes": "POST /v1/jobs to FINISHED observed by polling every 10 ms; "
                        "dataset uploaded and executors started by a warm-up job before"}


def measure_pool(n: int, work: float) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        pool.map(noop_task, range(WORKERS * 4), chunksize=1)  # warm: workers up, imports done
        cpu, start, epoch_start = tree_cpu_seconds(), time.perf_counter(), time.time()
        completions = list(pool.imap_unordered(noop_task, range(n), chunksize=1))
        wall, cpu = time.perf_counter() - start, spent(cpu, tree_cpu_seconds())
    check_completions(completions, n, epoch_start, "Pool")
    return {**figures(n, wall, completions, work, cpu), "workers": WORKERS, "chunksize": 1,
            "includes": "imap_unordered over a started Pool (spawn), chunksize 1"}


def measure_dask(n: int, work: float) -> dict[str, Any]:
    with dask_client(WORKERS) as client:
        client.gather(client.map(noop_task, range(WORKERS * 4), pure=False))  # warm
        cpu, start, epoch_start = tree_cpu_seconds(), time.perf_counter(), time.time()
        # pure=False: a task per call, as femto runs a task per partition, never a cache hit.
        completions = client.gather(client.map(noop_task, range(n), pure=False))
        wall, cpu = time.perf_counter() - start, spent(cpu, tree_cpu_seconds())
    check_completions(completions, n, epoch_start, "Dask")
    return {**figures(n, wall, completions, work, cpu), "workers": WORKERS,
            "threads_per_worker": 1,
            "includes": "Client.map (pure=False) then gather on a started LocalCluster of "
                        "worker processes"}


def check_completions(completions: list[float], n: int, epoch_start: float, peer: str) -> None:
    if len(completions) != n or min(completions) < epoch_start:
        raise RuntimeError(f"the {peer} peer lost or misdated tasks")


def run_throughput(n: int, workdir: Path) -> dict[str, Any]:
    work = noop_seconds()
    result = measure_femto(n, workdir / "throughput", work)
    dask = measure_dask(n, work)
    return {
        **result, "noop_us": work * 1e6, "overhead_definition": OVERHEAD_DEFINITION,
        "cpu_definition": "CPU seconds of this process and its descendants during the run, "
                          "per task, minus the no-op's own time",
        "peer": {"dask": dask, "pool": measure_pool(n, work)},
        "ratio": ratio(result["overhead_ms_per_task"], dask["overhead_ms_per_task"]),
        "ratio_of": "overhead_ms_per_task femto / Dask",
    }
