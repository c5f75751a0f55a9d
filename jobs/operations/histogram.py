"""`histogram`: counts per bin, exactly `numpy.histogram(data, bins, range)`.

NumPy bins each element on its own once the edges are fixed, so summing the
per-partition counts gives exactly the whole array's counts (including values
equal to the upper edge, which fall in the last bin). That needs the same
edges everywhere, hence `range` is required: NumPy would otherwise derive it
from the minimum and maximum of the whole data, a second pass over it.
The edges come from the partitions themselves so their dtype (float32 data
gives float32 edges in NumPy) is NumPy's.
"""

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from femto.jobs.limits import check_limit
from femto.jobs.operations.base import Context, Finite, Query, Where, selected


class HistogramParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bins: int = Field(strict=True, ge=1)
    # None only so a missing range gets the explanation below rather than "Field required".
    range: tuple[Finite, Finite] | None = Field(default=None, validate_default=True)
    where: Where | None = None

    @field_validator("bins")
    @classmethod
    def _bounded(cls, value: int, info: ValidationInfo) -> int:
        check_limit(info, "bins", value)
        return value

    @field_validator("range")
    @classmethod
    def _required_increasing(
        cls, value: tuple[float, float] | None
    ) -> tuple[float, float] | None:
        if value is None:
            raise ValueError(
                "range [lo, hi] is required: each partition is binned on its own, "
                "so the bins cannot be derived from the whole data"
            )
        lo, hi = value
        if not lo < hi:
            raise ValueError(f"range must satisfy lo < hi, got [{lo}, {hi}]")
        return value


class Histogram(Query[HistogramParams]):
    """`numpy.histogram(x, bins, range)`: counts summed across partitions, exactly."""

    name = "histogram"
    Params = HistogramParams

    def map(
        self, inputs: list[np.ndarray], params: HistogramParams, context: Context
    ) -> dict[str, Any]:
        counts, edges = np.histogram(
            selected(inputs[0], params.where), bins=params.bins, range=params.range
        )
        return {"counts": counts.tolist(), "edges": edges.tolist()}

    def reduce(self, partials: list[dict[str, Any]], params: HistogramParams) -> dict[str, Any]:
        if not partials:
            raise ValueError("histogram needs at least one partition")
        counts = [0] * params.bins
        for partial in partials:
            if len(partial["counts"]) != params.bins:
                raise ValueError(
                    f"a partial has {len(partial['counts'])} bins, expected {params.bins}"
                )
            counts = [total + int(c) for total, c in zip(counts, partial["counts"], strict=True)]
        return {"counts": counts, "edges": [float(e) for e in partials[0]["edges"]]}
