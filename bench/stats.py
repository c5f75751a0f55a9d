"""Pure arithmetic over measurements: percentiles, steady-state windows, ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, as numpy's default."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def steady_rate(completions: Sequence[float], low: float = 10.0, high: float = 90.0) -> float:
    """Completions per second between the low-th and high-th percentile of completion
    times: the rate once the start-up and the tail are cut off."""
    if len(completions) < 2:
        raise ValueError("a steady rate needs at least two completion times")
    start, end = percentile(completions, low), percentile(completions, high)
    done = len(completions) * (high - low) / 100.0
    if end <= start:
        return math.inf
    return done / (end - start)


def overhead_ms(rate: float, work_seconds: float, workers: int) -> float:
    """Wall milliseconds per task beyond the work: 1/rate minus the work's own time
    per task when `workers` run it side by side."""
    if rate <= 0 or workers < 1:
        raise ValueError(f"overhead needs a positive rate and workers, got {rate}, {workers}")
    return 1000.0 * (1.0 / rate - work_seconds / workers)


def ratio(value: float, peer: float) -> float | None:
    """value / peer, or None when the peer's figure is zero (no meaningful ratio)."""
    return value / peer if peer else None


def latency_summary(latencies: Sequence[float], seconds: float) -> dict[str, float]:
    """Requests/s over `seconds` and p50/p99 latency in milliseconds."""
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": 1000.0 * percentile(latencies, 50),
        "p99_ms": 1000.0 * percentile(latencies, 99),
    }
