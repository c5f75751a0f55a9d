"""A plugin's reduce may return NumPy values, as its map may: the job's result is plain
JSON. One that returns no JSON object fails its job with a reason, not the scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from femto.datasets import Datasets
from femto.engine.admission import admit
from femto.engine.results import ResultError, record_partial, result_of
from femto.jobs.limits import Limits
from femto.model import Job
from femto.store.sqlite import SqliteStore
from tests.plugins.distributions import on_path, write_distribution

REDUCERS = """
    from typing import Any

    import numpy as np
    from pydantic import BaseModel

    from femto.jobs.operations import Query


    class NoParams(BaseModel):
        pass


    class Counted(Query[NoParams]):
        name = "{name}"
        Params = NoParams

        def map(self, inputs, params, context) -> dict[str, Any]:
            return {{"n": len(inputs[0])}}

        def reduce(self, partials, params) -> Any:
            return {result}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "femto.db"))
    yield store
    store.close()


def reduced(store: SqliteStore, root: Path, result: str) -> object:
    write_distribution(root, "femto-reducers", "1.0", f"femto_reducers_{len(result)}",
                       REDUCERS.format(name="counted", result=result), {"counted": "Counted"})
    with on_path(root):
        admitted = admit({"name": "r", "operation": "counted", "inputs": ["d"]}, Limits())
        job = Job(id="j", name="r", operation="counted", spec=admitted.document,
                  fingerprint=admitted.fingerprint, created=0.0, n_tasks=2)
        for partition in (0, 1):
            record_partial(store, "j", partition, 1, {"n": 3})
        return result_of(store, Datasets(store), job, admitted)


def test_numpy_values_in_a_result_become_plain_json(store: SqliteStore, tmp_path: Path
                                                   ) -> None:
    result = reduced(store, tmp_path, '{"total": np.int64(sum(p["n"] for p in partials)), '
                                      '"each": np.array([p["n"] for p in partials])}')
    assert result == {"total": 6, "each": [3, 3]}
    assert type(result["total"]) is int  # type: ignore[index]


def test_a_result_that_is_no_json_object_fails_the_job(store: SqliteStore, tmp_path: Path
                                                      ) -> None:
    with pytest.raises(ResultError, match="counted returned a list, not a JSON object"):
        reduced(store, tmp_path, "[1, 2]")
