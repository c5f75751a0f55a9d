"""`noop`: a query that does no work, a benchmarking aid.

The throughput benchmark runs thousands of `noop` tasks to measure femto's
per-task overhead (scheduling, launch, status updates, reduce) apart from
any computation. Each task reports `{"tasks": 1}`; the result is
`{"tasks": n}`, the number of partitions that ran.
"""

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from femto.jobs.operations.base import Context, Query


class NoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Noop(Query[NoopParams]):
    """Does nothing, per partition: femto's own per-task overhead, for benchmarks."""

    name = "noop"
    Params = NoopParams

    def check_dtype(self, position: int, dtype: np.dtype) -> None:
        """Any dtype will do: the data is never looked at."""

    def map(
        self, inputs: list[np.ndarray], params: NoopParams, context: Context
    ) -> dict[str, Any]:
        return {"tasks": 1}

    def reduce(self, partials: list[dict[str, Any]], params: NoopParams) -> dict[str, Any]:
        return {"tasks": sum(int(p["tasks"]) for p in partials)}
