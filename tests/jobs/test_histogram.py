"""histogram over partitions is exactly numpy.histogram over the whole array."""

import numpy as np
import pytest

from femto.jobs.spec import SpecError, parse_job_spec
from tests.jobs.helpers import run_query, uneven_partitions


def assert_numpy_histogram(
    whole: np.ndarray, bins: int, lo: float, hi: float, parts: list[np.ndarray]
) -> None:
    counts, edges = np.histogram(whole, bins=bins, range=(lo, hi))
    result = run_query("histogram", {"bins": bins, "range": [lo, hi]}, parts)
    assert result["counts"] == counts.tolist()
    assert result["edges"] == edges.tolist()
    assert all(type(c) is int for c in result["counts"])


def adversarial(bins: int, lo: float, hi: float) -> np.ndarray:
    """Every edge, its float neighbours, both ends of the range, outside values, NaN, inf."""
    edges = np.linspace(lo, hi, bins + 1)
    near = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)])
    mids = lo + (np.arange(bins * 7) + 0.5) * ((hi - lo) / (bins * 7))
    specials = np.array([lo, hi, hi, np.nan, np.inf, -np.inf, lo - 1, hi + 1, -0.0, 0.0])
    return np.concatenate([near, mids, specials, near])


@pytest.mark.parametrize(
    ("bins", "lo", "hi"),
    [(50, 0.0, 100.0), (7, -1.0, 1.0), (3, 0.1, 0.7), (1, 0.0, 1.0), (1000, -3.3, 17.9),
     (10, 1e15, 1e15 + 10.0)],
)
def test_adversarial_values_at_edges(bins: int, lo: float, hi: float) -> None:
    whole = adversarial(bins, lo, hi)
    np.random.default_rng(bins).shuffle(whole)
    assert_numpy_histogram(whole, bins, lo, hi, uneven_partitions(whole, seed=bins))


def test_values_equal_to_hi_land_in_the_last_bin() -> None:
    whole = np.array([1.0, 1.0, 0.0, 0.5])
    result = run_query("histogram", {"bins": 2, "range": [0.0, 1.0]}, [whole[:2], whole[2:]])
    assert result == {"counts": [1, 3], "edges": [0.0, 0.5, 1.0]}


def test_many_partitions_of_random_data() -> None:
    whole = np.random.default_rng(11).exponential(scale=10.0, size=50_000)
    parts = np.array_split(whole, 37)
    assert_numpy_histogram(whole, 50, 0.0, 100.0, parts)


def test_float32_and_integer_data_keep_numpys_edges() -> None:
    f32 = np.random.default_rng(12).uniform(-1, 2, size=3_000).astype(np.float32)
    assert_numpy_histogram(f32, 9, 0.0, 1.0, uneven_partitions(f32, seed=12))
    ints = np.arange(-20, 300, dtype=np.int64)
    assert_numpy_histogram(ints, 13, 0.0, 256.0, uneven_partitions(ints, seed=13))


def test_where_filters_before_binning() -> None:
    whole = np.random.default_rng(14).uniform(0, 10, size=5_000)
    params = {"bins": 5, "range": [0.0, 10.0], "where": {"min": 2.5, "max": 7.5}}
    result = run_query("histogram", params, uneven_partitions(whole, seed=14))
    kept = whole[(whole >= 2.5) & (whole < 7.5)]
    assert result["counts"] == np.histogram(kept, 5, (0.0, 10.0))[0].tolist()


def spec(params: dict) -> dict:
    return {"name": "h", "operation": "histogram", "params": params, "inputs": ["events"]}


def test_range_is_required_and_the_error_says_why() -> None:
    with pytest.raises(SpecError) as caught:
        parse_job_spec(spec({"bins": 10}))
    [error] = caught.value.errors
    assert error["loc"] == "params.range"
    assert "required" in error["msg"]


@pytest.mark.parametrize(
    ("params", "loc"),
    [({"bins": 0, "range": [0, 1]}, "params.bins"),
     ({"bins": 2.5, "range": [0, 1]}, "params.bins"),
     ({"bins": 2, "range": [1, 1]}, "params.range"),
     ({"bins": 2, "range": [0, float("inf")]}, "params.range.1"),
     ({"bins": 2, "range": [0, 1, 2]}, "params.range"),
     ({"bins": 2, "range": [0, 1], "where": {"min": 3, "max": 2}}, "params.where")],
)
def test_bad_params_name_the_field(params: dict, loc: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_job_spec(spec(params))
    assert [e["loc"] for e in caught.value.errors] == [loc]
