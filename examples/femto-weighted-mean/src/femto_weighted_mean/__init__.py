"""`weighted_mean`: sum(w * x) / sum(w) over two datasets partitioned alike.

A query in femto's operation API: `map` turns one partition of the values and the same
partition of the weights into the partial (sum of w*x, sum of w), and `reduce` adds the
partials up. Both sums are correctly rounded (math.fsum) within a partition and across the
partials, so however the data is partitioned the result is `numpy.average(x, weights=w)`
to within a few ulps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from femto.jobs.operations import Context, Query, Where


class WeightedMeanParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Keep only the values with min <= x < max (their weights go with them).
    where: Where | None = None


class WeightedMean(Query[WeightedMeanParams]):
    """sum(w * x) / sum(w): the mean of the first input weighted by the second."""

    name = "weighted_mean"
    arity = 2
    aligned = True  # values and weights: one shape, partitioned alike
    Params = WeightedMeanParams

    def map(
        self, inputs: list[np.ndarray], params: WeightedMeanParams, context: Context
    ) -> dict[str, Any]:
        values, weights = (np.asarray(a, dtype=np.float64).ravel() for a in inputs)
        if values.shape != weights.shape:
            raise ValueError(f"weighted_mean: partitions differ in shape, {values.shape} and "
                             f"{weights.shape}")
        if params.where is not None:
            keep = params.where.mask(values)
            values, weights = values[keep], weights[keep]
        context.progress(0.5)
        return {"sum_wx": math.fsum(values * weights), "sum_w": math.fsum(weights)}

    def reduce(self, partials: list[dict[str, Any]], params: WeightedMeanParams
               ) -> dict[str, Any]:
        total_w = math.fsum(float(p["sum_w"]) for p in partials)
        if total_w == 0:
            raise ValueError("weighted_mean: the weights sum to zero (or nothing was selected)")
        total_wx = math.fsum(float(p["sum_wx"]) for p in partials)
        return {"value": total_wx / total_w, "weight": total_w}
