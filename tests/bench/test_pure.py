"""The benchmarks' arithmetic and table, without I/O."""

from __future__ import annotations

import numpy as np
import pytest

from bench.memory import chunks
from bench.report import Figure, Target, figures, render, rows
from bench.stats import latency_summary, overhead_ms, percentile, ratio, steady_rate


@pytest.mark.parametrize("q", [0, 1, 10, 50, 90, 99, 100])
def test_percentile_matches_numpy(q: float) -> None:
    values = list(np.random.default_rng(1).exponential(3.0, 101))
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_steady_rate_ignores_a_slow_start_and_tail() -> None:
    # 100 completions at 1 per 10 ms, after a 5 s start-up and before a 5 s tail.
    times = [0.0] * 5 + [5.0 + i * 0.01 for i in range(90)] + [20.0] * 5
    assert steady_rate(times) == pytest.approx(100.0, rel=0.05)


def test_overhead_is_time_per_task_beyond_the_work() -> None:
    assert overhead_ms(rate=250.0, work_seconds=0.002, workers=2) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        overhead_ms(rate=0.0, work_seconds=0.0, workers=2)


def test_ratio_and_latency_summary() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(1.0, 0.0) is None
    summary = latency_summary([0.001 * i for i in range(1, 101)], seconds=2.0)
    assert summary["rps"] == 50.0
    assert summary["p50_ms"] == pytest.approx(50.5)


def test_a_target_on_the_ratio_is_met_or_missed() -> None:
    faster = Figure("throughput", "overhead", 1.0, 4.0, "Dask", Target("ratio", at_most=0.5))
    assert faster.ratio == 0.25 and faster.met is True
    assert faster.row()[-1] == "ratio <= 0.5: met"
    slower = Figure("throughput", "tasks/s", 3.0, 2.0, "Dask", Target("ratio", at_least=2.0))
    assert slower.met is False and slower.row()[-1] == "ratio >= 2: MISSED"


def test_a_target_on_femtos_own_figure_ignores_the_peer() -> None:
    p99 = Figure("api", "p99 ms", 12.0, 1.0, "FastAPI", Target("femto", at_most=10.0))
    assert p99.ratio == 12.0 and p99.met is False
    assert Figure("api", "p50 ms", 2.0).met is None


def test_every_figure_is_recorded_as_femto_peer_and_ratio() -> None:
    result = {"seconds_to_accept": 10.2, "peer": {"seconds_to_lead": 10.0},
              "target": {"seconds": 10.5}}
    [record] = [f.record() for f in figures({"failover": result})]
    assert record["femto"] == 10.2 and record["peer"] == 10.0 and record["peer_name"] == "kazoo"
    assert record["ratio"] == pytest.approx(1.02)
    assert record["target"] == {"of": "femto", "at_most": 10.5, "at_least": None}
    assert record["met"] is True


def test_chunks_cover_n() -> None:
    assert chunks(25_000, 10_000) == [10_000, 10_000, 5_000]
    assert chunks(3, 10) == [3]


def test_table_shows_skips_and_errors_instead_of_figures() -> None:
    table = rows({"failover": {"skipped": "no leader election"}, "memory": {"error": "boom"}})
    assert table == [("failover", "SKIPPED", "no leader election", "", "", ""),
                     ("memory", "ERROR", "boom", "", "", "")]
    text = render(table)
    assert text.splitlines()[0].split() == ["benchmark", "figure", "femto", "peer", "ratio",
                                            "target"]
    assert "no leader election" in text


def test_scale_slope_is_flat_for_flat_figures_and_finds_a_growing_term() -> None:
    from bench.scale import slope

    agents = [2.0, 10.0, 25.0, 50.0]
    flat = slope(agents, [1.0, 1.1, 0.9, 1.0])
    assert abs(flat["slope"]) < 2 * flat["stderr"]
    growing = slope(agents, [1.0 + 0.1 * a for a in agents])
    assert growing["slope"] == pytest.approx(0.1)
