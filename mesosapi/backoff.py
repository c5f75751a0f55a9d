"""Reconnection delays: exponential, capped, with jitter so clients do not retry in step."""

from __future__ import annotations

import random


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Delay before retry number ``attempt`` (0 = first retry): uniform in [d/2, d],
    where d = min(cap, base * 2**attempt)."""
    if attempt < 0 or base <= 0 or cap <= 0:
        raise ValueError(f"bad backoff arguments attempt={attempt} base={base} cap={cap}")
    ceiling = min(cap, base * 2.0 ** min(attempt, 62))
    return (rng or random).uniform(ceiling / 2, ceiling)
