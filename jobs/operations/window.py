"""`sliding_mean`: `y[i] = mean(x[max(0, i-W+1) : i+1])` over a 1-D dataset.

A partition needs the last W-1 elements before it (`left`, shorter only at
the start of the array). Window sums come from block prefix and suffix sums
(van Herk / Gil-Werman): with blocks of W elements every window is the
suffix of one block plus the prefix of the next, so nothing is subtracted
and the error stays that of summing W numbers, where a running cumsum would
lose precision as it grows along the array.
"""

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from femto.jobs.limits import check_limit
from femto.jobs.operations.base import Context, Transform


class SlidingMeanParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(strict=True, ge=1)

    @field_validator("window")
    @classmethod
    def _bounded(cls, value: int, info: ValidationInfo) -> int:
        check_limit(info, "window", value)
        return value


class SlidingMean(Transform[SlidingMeanParams]):
    """`y[i] = mean(x[max(0, i-W+1) : i+1])` over a 1-D dataset, across partitions."""

    name = "sliding_mean"
    Params = SlidingMeanParams

    def left_context(self, params: SlidingMeanParams) -> int:
        return params.window - 1

    def check_inputs(
        self,
        params: SlidingMeanParams,
        dtypes: list[str],
        shapes: list[tuple[int, ...]],
        partition_lengths: list[list[int]],
    ) -> None:
        super().check_inputs(params, dtypes, shapes, partition_lengths)
        if len(shapes[0]) != 1:
            raise ValueError(f"sliding_mean needs a 1-D input, got shape {tuple(shapes[0])}")

    def map(
        self, inputs: list[np.ndarray], params: SlidingMeanParams, context: Context
    ) -> np.ndarray:
        return sliding_mean(inputs[0], params.window, context.left)


def sliding_mean(x: np.ndarray, window: int, left: np.ndarray | None = None) -> np.ndarray:
    """The sliding mean of partition `x`, given the elements `left` that precede it."""
    if x.ndim != 1:
        raise ValueError(f"sliding_mean needs a 1-D input, got shape {x.shape}")
    n = len(x)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    tail = np.empty(0) if left is None else np.asarray(left).ravel()
    tail = tail[max(0, len(tail) - (window - 1)) :]
    context = len(tail)
    # A shorter tail means the array starts there, so no window reaches further back than
    # the data at hand; capping W there bounds memory for windows far longer than the data.
    width = min(window, context + n)
    # Leading zeros make every window full without changing its sum.
    padded = np.concatenate(
        [np.zeros(width - 1 - context), tail.astype(np.float64), x.astype(np.float64)]
    )
    blocks = -(-len(padded) // width)
    flat = np.zeros(blocks * width)
    flat[: len(padded)] = padded
    grid = flat.reshape(blocks, width)
    prefix = np.cumsum(grid, axis=1).ravel()
    suffix = np.cumsum(grid[:, ::-1], axis=1)[:, ::-1].ravel()
    starts = np.arange(n)
    ends = starts + width - 1
    sums = prefix[ends] + np.where(starts % width == 0, 0.0, suffix[starts])
    counts = np.minimum(width, context + starts + 1)
    result: np.ndarray = sums / counts
    return result
