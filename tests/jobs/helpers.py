"""Shared test helpers: partition an array the way femto would meet it, run a query."""

import json
from typing import Any

import numpy as np

from femto.jobs.operations import Context, Query, get_operation


def uneven_partitions(whole: np.ndarray, seed: int, k: int = 9) -> list[np.ndarray]:
    """k >= 7 partitions of uneven sizes, with empty ones at the start, middle and end."""
    rng = np.random.default_rng(seed)
    middle = sorted(rng.integers(0, len(whole) + 1, size=k - 4).tolist())
    cuts = [0, *middle[:1], *middle, len(whole)]
    parts = np.split(whole, cuts)
    assert len(parts) >= 7
    assert sum(len(p) == 0 for p in parts) >= 3
    assert len({len(p) for p in parts}) > 2
    return parts


def run_query(name: str, params: dict[str, Any], parts: list[np.ndarray]) -> dict[str, Any]:
    """Map every partition, pass each partial through JSON as the executor does, reduce."""
    op = get_operation(name)
    assert isinstance(op, Query)
    parsed = op.parse_params(params)
    partials = [json.loads(json.dumps(op.map([p], parsed, Context()))) for p in parts]
    result = op.reduce(partials, parsed)
    assert json.dumps(json.loads(json.dumps(result))) == json.dumps(result)
    return result
