"""`scale`: the scheduler's CPU per task and its offer-round latency as the embedded
cluster grows, with the fitted slope and its standard error, so "flat" is measured.

The embedded master runs in a child process (`python -m localmesos`), so the CPU figure is
the scheduler process's alone; the offer round is timed around the engine's handling of one
OFFERS event, from its arrival to the accept/decline calls being queued. Each point runs
its job twice and measures the second: the first also starts an executor on every agent it
reaches, a cost per agent rather than per task, reported as the first job's extra CPU."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from bench.cluster import femto, run_job, upload
from bench.queue import measure_queue
from bench.scale_meters import (
    AGENT_CPUS,
    AGENT_MEM,
    POLL_S,
    cpu_seconds,
    timed_offer_rounds,
)

PLOT = Path(__file__).with_name("scale.png")


def measure(agents: int, tasks: int, state_dir: Path) -> dict[str, float]:
    spec = {"name": "bench-scale", "operation": "noop", "inputs": ["noop"],
            "resources": {"cpus": 0.01, "mem": 1}, "max_retries": 0}
    with femto(state_dir, agents=agents, agent_cpus=AGENT_CPUS, agent_mem=AGENT_MEM) as client:
        upload(client, "noop", np.zeros(tasks), tasks)
        # An agent starts femto's executor once, for the framework's life: the first job
        # pays that start-up on every agent it reaches, which is a cost per agent, not per
        # task. Measured apart, as throughput's warm-up job does.
        cpu = cpu_seconds()
        run_job(client, spec, 600.0, POLL_S)
        first = cpu_seconds() - cpu
        with timed_offer_rounds() as rounds:
            cpu = cpu_seconds()
            wall, _ = run_job(client, spec, 600.0, POLL_S)
            cpu = cpu_seconds() - cpu
    return {"agents": agents, "tasks": tasks, "wall_s": wall,
            "cpu_ms_per_task": 1e3 * cpu / tasks,
            "first_job_extra_cpu_ms": 1e3 * (first - cpu),
            "offer_round_p50_ms": 1e3 * float(np.median(rounds)) if rounds else 0.0,
            "offer_rounds": len(rounds)}


def slope(xs: list[float], ys: list[float]) -> dict[str, float]:
    """Least-squares slope of ys over xs and its standard error."""
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    if len(x) < 3:
        return {"slope": float(np.polyfit(x, y, 1)[0]), "stderr": float("nan"),
                "mean": float(y.mean())}
    (b, _), cov = np.polyfit(x, y, 1, cov=True)
    return {"slope": float(b), "stderr": float(np.sqrt(cov[0, 0])), "mean": float(y.mean())}


def plot(points: list[dict[str, float]], queue: list[dict[str, float]], path: Path
         ) -> str | None:
    try:
        import matplotlib
    except ImportError:
        return None  # the `bench` extra is not installed: figures only
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("agents", "agents", points)] + ([("queued", "queued tasks", queue)] if queue else [])
    fig, axes = plt.subplots(len(rows), 2, figsize=(9, 3.5 * len(rows)), squeeze=False)
    for (key, label, series), (cpu_ax, round_ax) in zip(rows, axes, strict=True):
        xs = [p[key] for p in series]
        cpu_ax.plot(xs, [p["cpu_ms_per_task"] for p in series], "o-")
        cpu_ax.set(xlabel=label, ylabel="process CPU per task (ms)", ylim=(0, None))
        round_ax.plot(xs, [p["offer_round_p50_ms"] for p in series], "o-")
        round_ax.set(xlabel=label, ylabel="offer round p50 (ms)", ylim=(0, None))
        if key == "queued":
            cpu_ax.set_xscale("log")
            round_ax.set_xscale("log")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def run_scale(agent_counts: tuple[int, ...], tasks: int, state_dir: Path,
              queue_sizes: tuple[int, ...] = (), plot_to: Path = PLOT) -> dict[str, Any]:
    """Over the agent counts, then (a backlog of each size queued, bench.queue) over the
    queue; `tasks` measured tasks at each point."""
    state_dir.mkdir(parents=True, exist_ok=True)
    points = [measure(n, tasks, state_dir / f"agents-{n}") for n in agent_counts]
    xs = [p["agents"] for p in points]
    result: dict[str, Any] = {
        "by_agents": points,
        "cpu_ms_per_task_slope_per_agent": slope(xs, [p["cpu_ms_per_task"] for p in points]),
        "offer_round_ms_slope_per_agent": slope(xs, [p["offer_round_p50_ms"] for p in points]),
        "first_job_extra_cpu_ms_slope_per_agent": slope(
            xs, [p["first_job_extra_cpu_ms"] for p in points]),
    }
    queue = [measure_queue(q, tasks, state_dir / f"queue-{q}") for q in queue_sizes]
    if queue:
        thousands = [p["queued"] / 1000 for p in queue]
        result["by_queue"] = queue
        result["cpu_ms_per_task_slope_per_1000_queued"] = slope(
            thousands, [p["cpu_ms_per_task"] for p in queue])
        result["offer_round_ms_slope_per_1000_queued"] = slope(
            thousands, [p["offer_round_p50_ms"] for p in queue])
    result["load_average"] = list(os.getloadavg())
    result["plot"] = plot(points, queue, plot_to)
    (state_dir / "scale.json").write_text(json.dumps(result, indent=2))
    return result
