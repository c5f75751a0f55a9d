"""Prometheus text exposition of the engine's counters and gauges."""

from __future__ import annotations

from femto.engine import Engine
from femto.lifecycle import TaskState


def render_metrics(engine: Engine, mesos_connected: bool, is_leader: bool) -> str:
    with engine.lock:
        counters = dict(engine.counters)
        active = len(engine.jobs)
        pending = len(engine.pending)
        running = sum(job.counts.get(TaskState.RUNNING, 0) for job in engine.jobs.values())
    lines = [
        "# HELP femto_active_jobs Jobs pending or running.",
        "# TYPE femto_active_jobs gauge",
        f"femto_active_jobs {active}",
        "# HELP femto_pending_tasks Tasks waiting for an offer.",
        "# TYPE femto_pending_tasks gauge",
        f"femto_pending_tasks {pending}",
        "# HELP femto_running_tasks Tasks running on agents.",
        "# TYPE femto_running_tasks gauge",
        f"femto_running_tasks {running}",
        "# HELP femto_mesos_connected 1 while subscribed to a Mesos master.",
        "# TYPE femto_mesos_connected gauge",
        f"femto_mesos_connected {int(mesos_connected)}",
        "# HELP femto_is_leader 1 while this scheduler leads.",
        "# TYPE femto_is_leader gauge",
        f"femto_is_leader {int(is_leader)}",
    ]
    for name, value in sorted(counters.items()):
        lines += [f"# TYPE femto_{name}_total counter", f"femto_{name}_total {value}"]
    return "\n".join(lines) + "\n"
