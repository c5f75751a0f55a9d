"""Transforms applied partition by partition equal NumPy on the whole array."""

import numpy as np
import pytest

from femto.jobs.operations import Context, Transform, get_operation
from femto.jobs.operations.window import sliding_mean
from tests.jobs.helpers import uneven_partitions


def transform(name: str, params: dict) -> tuple[Transform, object]:
    op = get_operation(name)
    assert isinstance(op, Transform)
    return op, op.parse_params(params)


def direct_sliding_mean(x: np.ndarray, window: int) -> np.ndarray:
    return np.array([np.mean(x[max(0, i - window + 1) : i + 1]) for i in range(len(x))])


def run_sliding_mean(parts: list[np.ndarray], window: int) -> np.ndarray:
    """As the engine runs it: each task gets the preceding partitions' last W-1 elements."""
    op, params = transform("sliding_mean", {"window": window})
    need = op.left_context(params)
    assert need == window - 1
    outputs = []
    for i, part in enumerate(parts):
        before = np.concatenate([np.empty(0), *parts[:i]])
        left = before[max(0, len(before) - need) :] if need else None
        outputs.append(op.map([part], params, Context(left=left if i else None)))
        assert len(outputs[-1]) == len(part)
    return np.concatenate(outputs)


@pytest.mark.parametrize("window", [1, 2, 3, 10, 64, 500, 5000])
def test_sliding_mean_across_uneven_partitions(window: int) -> None:
    x = np.random.default_rng(window).exponential(scale=10.0, size=2_000) + 50.0
    # Empty, one-element and tiny partitions (windows reach across several), and long ones.
    parts = np.split(x, [0, 0, 1, 3, 3, 4, 250, 253, 1_100, 1_999, 2_000])
    got = run_sliding_mean(parts, window)
    np.testing.assert_allclose(got, direct_sliding_mean(x, window), rtol=1e-12, atol=0)


def test_sliding_mean_with_one_element_partitions_and_mixed_signs() -> None:
    x = np.random.default_rng(1).normal(size=40)
    parts = [x[i : i + 1] for i in range(len(x))]
    np.testing.assert_allclose(run_sliding_mean(parts, 7), direct_sliding_mean(x, 7), rtol=1e-12)


def test_sliding_mean_stays_accurate_far_along_a_long_partition() -> None:
    # A running cumsum over the whole partition loses ~1e-11 relative here.
    x = 1e6 + np.random.default_rng(2).uniform(0, 1, size=400_000)
    window = 5
    got = sliding_mean(x, window)
    tail = slice(len(x) - 1_000, None)
    expected = direct_sliding_mean(x[-1_000 - window :], window)[window:]
    np.testing.assert_allclose(got[tail], expected, rtol=1e-13, atol=0)


def test_sliding_mean_takes_only_the_window_from_a_long_left() -> None:
    x = np.arange(10.0)
    got = sliding_mean(x[6:], 3, left=x[:6])
    np.testing.assert_allclose(got, direct_sliding_mean(x, 3)[6:])
    assert sliding_mean(x[:0], 3, left=x).shape == (0,)


def test_sliding_mean_needs_one_dimension() -> None:
    op, params = transform("sliding_mean", {"window": 3})
    with pytest.raises(ValueError, match="1-D"):
        op.check_inputs(params, ["float64"], [(10, 2)], [[5, 5]])
    op.check_inputs(params, ["float64"], [(10,)], [[5, 5]])


def test_real2bin_matches_numpy() -> None:
    x = np.random.default_rng(3).uniform(-1e6, 1e6, size=5_000)
    x[:6] = [-0.5, 0.0, -0.0, 1.0, -1.0, 2.5]
    op, params = transform("real2bin", {})
    got = np.concatenate([op.map([p], params, Context()) for p in uneven_partitions(x, seed=3)])
    expected = np.floor(x).astype(np.int64) % 2
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e19])
def test_real2bin_refuses_values_without_an_int64_floor(bad: float) -> None:
    op, params = transform("real2bin", {})
    with pytest.raises(ValueError, match="no int64 floor"):
        op.map([np.array([1.5, bad])], params, Context())


def test_add_matches_numpy_partition_by_partition() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=1_000), rng.integers(-5, 5, size=1_000)
    op, params = transform("add", {})
    cuts = [0, 0, 10, 500, 500, 999, 1_000]
    pairs = zip(np.split(a, cuts), np.split(b, cuts), strict=True)
    got = [op.map([pa, pb], params, Context()) for pa, pb in pairs]
    np.testing.assert_array_equal(np.concatenate(got), a + b)


def test_add_checks_its_inputs_at_submission() -> None:
    op, params = transform("add", {})
    op.check_inputs(params, ["float64", "int64"], [(10,), (10,)], [[5, 5], [5, 5]])
    with pytest.raises(ValueError, match="partitioned alike"):
        op.check_inputs(params, ["float64", "float64"], [(10,), (10,)], [[5, 5], [4, 6]])
    with pytest.raises(ValueError, match="equal shape"):
        op.check_inputs(params, ["float64", "float64"], [(10,), (12,)], [[5, 5], [6, 6]])
    with pytest.raises(ValueError, match="2 input"):
        op.check_inputs(params, ["float64"], [(10,)], [[5, 5]])


def test_numeric_operations_refuse_other_dtypes() -> None:
    op, params = transform("real2bin", {})
    with pytest.raises(ValueError, match="numeric"):
        op.check_inputs(params, ["<U3"], [(3,)], [[3]])
    with pytest.raises(ValueError, match="unknown dtype"):
        op.check_inputs(params, ["float65"], [(3,)], [[3]])


def test_clip_matches_numpy() -> None:
    x = np.random.default_rng(5).normal(scale=10.0, size=5_000)
    op, params = transform("clip", {"min": -12.0, "max": 12.0})
    got = np.concatenate([op.map([p], params, Context()) for p in uneven_partitions(x, seed=5)])
    np.testing.assert_array_equal(got, np.clip(x, -12.0, 12.0))


def test_clip_refuses_min_above_max() -> None:
    op = get_operation("clip")
    with pytest.raises(ValueError, match="min must not exceed max"):
        op.parse_params({"min": 2.0, "max": 1.0})
