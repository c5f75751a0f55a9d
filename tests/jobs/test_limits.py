"""Operator-set bounds on a job spec, checked at admission only."""

from __future__ import annotations

import pytest

from femto.jobs.limits import Limits
from femto.jobs.spec import SpecError, parse_job_spec


def spec(**changes: object) -> dict:
    return {"name": "h", "operation": "histogram", "inputs": ["d"],
            "params": {"bins": 10, "range": [0, 1]}, **changes}


@pytest.mark.parametrize(("changes", "loc", "limit"), [
    ({"params": {"bins": 10**12, "range": [0, 1]}}, "params.bins", "100000"),
    ({"operation": "sliding_mean", "params": {"window": 10**9}}, "params.window", "1e+07"),
    ({"resources": {"cpus": 1000.0}}, "resources.cpus", "256"),
    ({"resources": {"mem": 1e308}}, "resources.mem", "4.1943e+06"),
])
def test_each_bound_is_an_error_naming_the_field_and_the_limit(
        changes: dict, loc: str, limit: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_job_spec(spec(**changes), Limits())
    [error] = caught.value.errors
    assert error["loc"] == loc
    assert f"over the limit of {limit}" in error["msg"] and "--limit" in error["msg"]


def test_without_limits_a_stored_spec_is_read_back_as_it_was() -> None:
    parse_job_spec(spec(params={"bins": 10**6, "range": [0, 1]}))
    with pytest.raises(SpecError):
        parse_job_spec(spec(params={"bins": 10**6, "range": [0, 1]}), Limits())


def test_operators_set_limits_by_name() -> None:
    limits = Limits.parse(["bins=2000000", "task-mem=128", "upload_bytes=10"])
    assert (limits.bins, limits.task_mem, limits.upload_bytes) == (2_000_000, 128.0, 10)
    assert limits.window == Limits().window
    parse_job_spec(spec(params={"bins": 10**6, "range": [0, 1]}), limits)
    for bad, match in (("colour=1", "one of bins"), ("bins", "NAME=VALUE"),
                       ("bins=many", "not a number"), ("bins=0", "positive")):
        with pytest.raises(ValueError, match=match):
            Limits.parse([bad])
