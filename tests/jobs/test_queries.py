"""Every query, mapped over uneven partitions and reduced, equals NumPy on the whole array."""

import numpy as np
import pytest

from tests.jobs.helpers import run_query, uneven_partitions

WHERES = [None, {"min": 5.0}, {"max": 12.5}, {"min": 5.0, "max": 12.5}]


@pytest.fixture
def pt() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.exponential(scale=10.0, size=20_001) + rng.normal(scale=1e-3, size=20_001)


def select(x: np.ndarray, where: dict | None) -> np.ndarray:
    keep = np.ones(x.shape, dtype=bool)
    if where and where.get("min") is not None:
        keep &= x >= where["min"]
    if where and where.get("max") is not None:
        keep &= x < where["max"]
    return x[keep]


def params_for(where: dict | None) -> dict:
    return {} if where is None else {"where": where}


@pytest.mark.parametrize("where", WHERES)
def test_count_is_exact(pt: np.ndarray, where: dict | None) -> None:
    result = run_query("count", params_for(where), uneven_partitions(pt, seed=1))
    assert result == {"value": select(pt, where).size}
    assert type(result["value"]) is int


@pytest.mark.parametrize("where", WHERES)
def test_sum_and_mean_match_numpy(pt: np.ndarray, where: dict | None) -> None:
    parts = uneven_partitions(pt, seed=2)
    whole = select(pt, where)
    total = run_query("sum", params_for(where), parts)["value"]
    mean = run_query("mean", params_for(where), parts)["value"]
    assert total == pytest.approx(float(np.sum(whole)), rel=1e-9)
    assert mean == pytest.approx(float(np.mean(whole)), rel=1e-9)


@pytest.mark.parametrize("where", WHERES)
def test_min_and_max_are_exact(pt: np.ndarray, where: dict | None) -> None:
    parts = uneven_partitions(pt, seed=3)
    whole = select(pt, where)
    assert run_query("min", params_for(where), parts) == {"value": float(np.min(whole))}
    assert run_query("max", params_for(where), parts) == {"value": float(np.max(whole))}


def test_sum_survives_cancellation_between_partitions() -> None:
    # Large terms that cancel across partitions: a naive float sum of the partials loses
    # the small ones entirely.
    whole = np.array([1e16, 1.0, -1e16, 3.0, 1e16, -1e16, 0.5] * 3)
    parts = [whole[i : i + 1] for i in range(len(whole))] + [whole[:0]]
    assert run_query("sum", {}, parts) == {"value": 13.5}
    assert run_query("mean", {}, parts)["value"] == pytest.approx(13.5 / len(whole), rel=1e-12)


def test_integer_data_gives_float_sums_and_int_counts() -> None:
    whole = np.arange(-50, 1000, dtype=np.int64)
    parts = uneven_partitions(whole, seed=4)
    assert run_query("sum", {}, parts) == {"value": float(np.sum(whole))}
    assert run_query("count", {"where": {"min": 0, "max": 10}}, parts) == {"value": 10}
    assert run_query("max", {}, parts) == {"value": 999.0}


def test_multidimensional_partitions_reduce_over_every_element() -> None:
    whole = np.random.default_rng(5).normal(size=(90, 4))
    parts = uneven_partitions(whole, seed=5)
    assert run_query("count", {}, parts) == {"value": whole.size}
    assert run_query("sum", {}, parts)["value"] == pytest.approx(float(whole.sum()), rel=1e-9)


@pytest.mark.parametrize("name", ["min", "max", "mean"])
def test_empty_selection_is_a_readable_error(pt: np.ndarray, name: str) -> None:
    with pytest.raises(ValueError, match="empty selection"):
        run_query(name, {"where": {"min": 1e9}}, uneven_partitions(pt, seed=6))


def test_empty_selection_counts_and_sums_to_zero(pt: np.ndarray) -> None:
    parts = uneven_partitions(pt, seed=6)
    assert run_query("count", {"where": {"max": -1.0}}, parts) == {"value": 0}
    assert run_query("sum", {"where": {"max": -1.0}}, parts) == {"value": 0.0}


def test_nan_and_inf_propagate_as_in_numpy() -> None:
    whole = np.array([1.0, np.nan, 2.0, 3.0, np.inf, 4.0, -np.inf, 5.0])
    parts = [whole[i : i + 1] for i in range(len(whole))]
    for name in ("sum", "mean", "min", "max"):
        assert np.isnan(run_query(name, {}, parts)["value"]), name
    without_nan = np.delete(whole, 1)
    parts = [without_nan[:3], without_nan[3:3], without_nan[3:]]
    with np.errstate(invalid="ignore"):  # inf + -inf, as NumPy on the whole array warns
        assert np.isnan(run_query("sum", {}, parts)["value"])
    assert run_query("min", {}, parts) == {"value": -np.inf}
    assert run_query("max", {}, parts) == {"value": np.inf}
    # A where bound drops NaN, as `a <= x < b` is false for it.
    assert run_query("count", {"where": {"min": 0.0}}, [whole]) == {"value": 6}


def test_noop_counts_tasks() -> None:
    parts = uneven_partitions(np.arange(100.0), seed=8)
    assert run_query("noop", {}, parts) == {"tasks": len(parts)}
