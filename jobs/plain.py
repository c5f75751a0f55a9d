"""What an operation returns, as plain JSON values: a partial from `map` or a result from
`reduce` may hold NumPy scalars and arrays, which become numbers and lists."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_safe(value: Any) -> Any:
    """`value` with NumPy values made plain; TypeError naming what JSON cannot hold."""
    return json.loads(json.dumps(value, default=_plain))
