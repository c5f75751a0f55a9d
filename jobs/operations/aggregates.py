"""Reductions to one number: count, sum, mean, min, max.

Each accepts an optional `where` ({"min": a, "max": b}, keeps a <= x < b).
Sums are taken per partition in float64 and combined with a correctly rounded
sum, so the result is within a few ulps of `numpy.sum` on the whole array.
An empty selection has no mean, min or max: NumPy returns NaN (with a
warning) for the mean and raises for min/max; femto fails the job with a
readable error in all three cases, since NaN is not valid JSON and would
only hide the empty selection.
"""

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from femto.jobs.operations.base import Context, Query, Where, exact_total, selected


class AggregateParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    where: Where | None = None


class Count(Query[AggregateParams]):
    """The number of elements (with `where`: of those kept)."""

    name = "count"
    Params = AggregateParams

    def map(
        self, inputs: list[np.ndarray], params: AggregateParams, context: Context
    ) -> dict[str, Any]:
        return {"value": int(selected(inputs[0], params.where).size)}

    def reduce(self, partials: list[dict[str, Any]], params: AggregateParams) -> dict[str, Any]:
        return {"value": sum(int(p["value"]) for p in partials)}


class Sum(Query[AggregateParams]):
    """The sum of the elements, in float64, correctly rounded across partitions."""

    name = "sum"
    Params = AggregateParams

    def map(
        self, inputs: list[np.ndarray], params: AggregateParams, context: Context
    ) -> dict[str, Any]:
        return {"value": float(np.sum(selected(inputs[0], params.where), dtype=np.float64))}

    def reduce(self, partials: list[dict[str, Any]], params: AggregateParams) -> dict[str, Any]:
        return {"value": exact_total([float(p["value"]) for p in partials])}


class Mean(Query[AggregateParams]):
    """The mean of the elements, from each partition's sum and count."""

    name = "mean"
    Params = AggregateParams

    def map(
        self, inputs: list[np.ndarray], params: AggregateParams, context: Context
    ) -> dict[str, Any]:
        values = selected(inputs[0], params.where)
        return {"sum": float(np.sum(values, dtype=np.float64)), "count": int(values.size)}

    def reduce(self, partials: list[dict[str, Any]], params: AggregateParams) -> dict[str, Any]:
        count = sum(int(p["count"]) for p in partials)
        if count == 0:
            raise ValueError("mean of an empty selection: no element matched")
        return {"value": exact_total([float(p["sum"]) for p in partials]) / count}


class Extremum(Query[AggregateParams]):
    """min or max; a partition with nothing selected contributes None."""

    Params = AggregateParams
    pick: ClassVar[Any]

    def map(
        self, inputs: list[np.ndarray], params: AggregateParams, context: Context
    ) -> dict[str, Any]:
        values = selected(inputs[0], params.where)
        return {"value": float(self.pick(values)) if values.size else None}

    def reduce(self, partials: list[dict[str, Any]], params: AggregateParams) -> dict[str, Any]:
        found = [float(p["value"]) for p in partials if p["value"] is not None]
        if not found:
            raise ValueError(f"{self.name} of an empty selection: no element matched")
        # NumPy's reduction (not Python's min/max) so that a NaN propagates as in NumPy.
        return {"value": float(self.pick(np.asarray(found)))}


class Min(Extremum):
    """The smallest element."""

    name = "min"
    pick = staticmethod(np.min)


class Max(Extremum):
    """The largest element."""

    name = "max"
    pick = staticmethod(np.max)
