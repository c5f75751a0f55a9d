"""`scale` over the queue: the scheduler's CPU per task and its offer-round latency while Q
tasks wait, spread over 1,000 jobs, without running Q tasks.

The backlog's tasks ask for more memory than an agent has, so they stay queued while a
measured job of M no-ops runs in front of them: it is submitted first (queue order is
launch priority), under the engine's lock with the backlog, so no offer is taken before
the whole queue is in. Every offer round then walks the queue as with a full cluster:
the measured tasks first, then the backlog until placement gives up on it."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np

from bench.cluster import femto_service, upload, wait_done
from bench.scale_meters import (
    AGENT_CPUS,
    AGENT_MEM,
    POLL_S,
    cpu_seconds,
    timed_offer_rounds,
)

BACKLOG_JOBS = 1_000
AGENTS = 2


def measured_spec() -> dict[str, Any]:
    return {"name": "bench-queue", "operation": "noop", "inputs": ["measured"],
            "resources": {"cpus": 0.01, "mem": 1}, "max_retries": 0}


def backlog_spec() -> dict[str, Any]:
    # Bigger than any agent: queued for as long as the service runs.
    return {"name": "bench-backlog", "operation": "noop", "inputs": ["backlog"],
            "resources": {"cpus": 0.01, "mem": 4 * AGENT_MEM}}


def measure_queue(queued: int, tasks: int, state_dir: Path) -> dict[str, float]:
    per_job = max(1, queued // BACKLOG_JOBS)
    with femto_service(state_dir, agents=AGENTS, agent_cpus=AGENT_CPUS,
                       agent_mem=AGENT_MEM) as (service, client):
        engine = service.engine
        assert engine is not None
        upload(client, "measured", np.zeros(tasks), tasks)
        upload(client, "backlog", np.zeros(per_job), per_job)
        with engine.lock:
            job, _ = engine.submit(measured_spec())
            for _ in range(BACKLOG_JOBS):
                engine.submit(backlog_spec())
            backlog = len(engine.pending) - tasks
            # The submissions' garbage is theirs: a full collection of the backlog's heap
            # falling due in the window would charge it to the measured tasks.
            gc.collect()
        with timed_offer_rounds() as rounds:
            cpu = cpu_seconds()
            wait_done(client, job["id"], 600.0, POLL_S)
            cpu = cpu_seconds() - cpu
        with engine.lock:
            left = len(engine.pending)
    return {"queued": backlog, "queued_after": left, "tasks": tasks,
            "cpu_ms_per_task": 1e3 * cpu / tasks,
            "offer_round_p50_ms": 1e3 * float(np.median(rounds)) if rounds else 0.0,
            "offer_rounds": len(rounds)}
