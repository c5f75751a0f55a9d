"""The example plugin (examples/femto-weighted-mean), as installed in the test environment:
its map and reduce give NumPy's weighted mean however the data is partitioned."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from femto.jobs.operations import Context, Query, get_operation, package_of
from tests.jobs.helpers import uneven_partitions

RNG = np.random.default_rng(17)
VALUES = RNG.normal(50.0, 20.0, 10_001)
WEIGHTS = RNG.uniform(0.0, 3.0, 10_001)


def weighted_mean() -> Query:
    op = get_operation("weighted_mean")
    assert isinstance(op, Query)
    return op


def run(params: dict[str, Any], values: list[np.ndarray], weights: list[np.ndarray]
        ) -> dict[str, Any]:
    """As femto runs it: one map per pair of partitions, each partial through JSON."""
    op = weighted_mean()
    parsed = op.parse_params(params)
    partials = [json.loads(json.dumps(op.map([x, w], parsed, Context())))
                for x, w in zip(values, weights, strict=True)]
    return op.reduce(partials, parsed)


def test_it_comes_from_the_example_package() -> None:
    assert str(package_of("weighted_mean")) == "femto-weighted-mean 0.1.0"
    assert weighted_mean().arity == 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_uneven_partitions_give_numpys_weighted_mean(seed: int) -> None:
    cuts = [len(p) for p in uneven_partitions(VALUES, seed)]
    split = np.cumsum(cuts)[:-1]
    result = run({}, np.split(VALUES, split), np.split(WEIGHTS, split))
    assert result["value"] == pytest.approx(np.average(VALUES, weights=WEIGHTS), rel=1e-13)
    assert result["weight"] == pytest.approx(np.sum(WEIGHTS), rel=1e-13)


def test_where_keeps_the_values_in_range_with_their_weights() -> None:
    keep = (VALUES >= 40.0) & (VALUES < 70.0)
    result = run({"where": {"min": 40.0, "max": 70.0}}, np.array_split(VALUES, 7),
                 np.array_split(WEIGHTS, 7))
    assert result["value"] == pytest.approx(
        np.average(VALUES[keep], weights=WEIGHTS[keep]), rel=1e-13)


def test_weights_that_sum_to_zero_have_no_mean() -> None:
    with pytest.raises(ValueError, match="weights sum to zero"):
        run({}, [np.ones(3), np.ones(2)], [np.zeros(3), np.zeros(2)])


def test_inputs_partitioned_differently_are_refused_before_anything_runs() -> None:
    op = weighted_mean()
    with pytest.raises(ValueError, match="partitioned alike"):
        op.check_inputs(op.parse_params({}), ["float64", "float64"], [(5,), (5,)],
                        [[2, 3], [3, 2]])
