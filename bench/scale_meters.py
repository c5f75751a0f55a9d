"""What `scale` reads: the offer rounds' latency in the engine, the process's CPU, and the
small agents it runs on."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from femto.engine.shell import Engine

AGENT_CPUS, AGENT_MEM = 1.0, 512.0  # small agents: 50 fit on a 2-core machine
# How often the bench asks whether the measured job is over. Its GETs are served and
# sent in the metered process: polled every 10 ms, they cost ~0.1 ms of CPU per task for
# each second the job runs, and the job runs longer on more agents (each starts an
# executor), which the agent sweep measured as per-agent growth.
POLL_S = 0.25


@contextmanager
def timed_offer_rounds() -> Iterator[list[float]]:
    """Seconds each offer round took in the engine (instrumentation, not a mock)."""
    rounds: list[float] = []
    original = Engine.on_offers

    def timed(self: Engine, offers: list[dict[str, Any]]) -> None:
        start = time.perf_counter()
        try:
            original(self, offers)
        finally:
            rounds.append(time.perf_counter() - start)

    Engine.on_offers = timed  # type: ignore[method-assign]
    try:
        yield rounds
    finally:
        Engine.on_offers = original  # type: ignore[method-assign]


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system
