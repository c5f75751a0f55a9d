"""Each benchmark in its tiniest configuration, for real: the result has the shape the
table and results.json rely on, and the table renders it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.api import run_api
from bench.data_job import run_data_job
from bench.failover import run_failover
from bench.memory import run_memory
from bench.report import render, rows
from bench.stream import run_stream
from bench.throughput import run_throughput


def positive(*values: Any) -> bool:
    return all(isinstance(v, float | int) and v > 0 for v in values)


def test_throughput(tmp_path: Path) -> None:
    result = run_throughput(20, tmp_path)
    dask, pool = result["peer"]["dask"], result["peer"]["pool"]
    assert result["tasks"] == dask["tasks"] == pool["tasks"] == 20
    for side in (result, dask, pool):
        assert positive(side["tasks_per_s"], side["steady_tasks_per_s"])
        assert isinstance(side["cpu_ms_per_task"], float)
    # A scheduler's CPU per task is real work beyond the no-op; the Pool's is near zero and
    # may come out a hair below it, so only the schedulers' must be positive.
    assert positive(result["cpu_ms_per_task"], dask["cpu_ms_per_task"])
    assert result["ratio"] == pytest.approx(
        result["overhead_ms_per_task"] / dask["overhead_ms_per_task"])
    assert result["overhead_definition"].startswith("1000 / steady tasks/s")
    table = render(rows({"throughput": result}))
    assert "Dask" in table and "Pool" in table and "ratio <= 0.5" in table


def test_data_job(tmp_path: Path) -> None:
    result = run_data_job([10_000], tmp_path)
    assert result["partitions"] == 32
    [run] = result["runs"]
    peer = run["peer"]
    assert run["elements"] == 10_000
    assert positive(run["wall_s"], peer["mmap_pool_s"], peer["dask_s"], peer["pickling_pool_s"],
                    peer["numpy_s"])
    assert peer["limit_s"] == pytest.approx(peer["numpy_s"] / peer["cores"])
    table = render(rows({"data_job": result}))
    for peer_name in ("Pool(mmap)", "Dask", "limit", "Pool(pickle)"):
        assert peer_name in table


def test_api(tmp_path: Path) -> None:
    result = run_api(0.25, tmp_path)
    for side in (result, result["peer"]):
        assert side["post_jobs"]["requests"] == 50  # 0.25 s at 200/s
        assert side["get_job"]["requests"] == 125  # at 500/s
    for endpoint in ("post_jobs", "get_job"):
        for side in (result, result["peer"]):
            assert positive(side[endpoint]["rps"], side[endpoint]["p50_ms"])
            assert side[endpoint]["p99_ms"] >= side[endpoint]["p50_ms"]
    assert "GET /v1/jobs/{id} p99 ms" in render(rows({"api": result}))


def test_memory(tmp_path: Path) -> None:
    result = run_memory(300, tmp_path)
    assert result["tasks"] == 300
    assert result["rss_after"] > 0 and result["peer"]["bytes_per_task"] > 0
    assert "RSS bytes per queued task" in render(rows({"memory": result}))


def test_failover_measures_or_says_why_not(tmp_path: Path) -> None:
    result = run_failover(tmp_path)
    if "skipped" in result:
        assert "leader" in result["skipped"]
    else:
        assert positive(result["seconds_to_accept"], result["peer"]["seconds_to_lead"])
        assert result["ratio"] == pytest.approx(
            result["seconds_to_accept"] / result["peer"]["seconds_to_lead"])
    assert render(rows({"failover": result}))


def test_scale_over_agents_and_the_queue(tmp_path: Path) -> None:
    from bench.scale import run_scale

    result = run_scale((2, 3), 20, tmp_path, queue_sizes=(1_000, 2_000),
                       plot_to=tmp_path / "scale.png")
    assert [p["agents"] for p in result["by_agents"]] == [2, 3]
    # The backlog stays queued behind the measured job: every point measures at its size.
    assert [(p["queued"], p["queued_after"]) for p in result["by_queue"]] == [
        (1_000, 1_000), (2_000, 2_000)]
    for point in result["by_agents"] + result["by_queue"]:
        assert positive(point["cpu_ms_per_task"], point["offer_round_p50_ms"])
    table = render(rows({"scale": result}))
    assert "CPU ms/task slope per agent" in table
    assert "CPU ms/task slope per 1,000 queued" in table
    assert "executor start-up" in table
    assert result["plot"] is None or Path(result["plot"]).stat().st_size > 0


def test_stream(tmp_path: Path) -> None:
    result = run_stream(3, tmp_path)
    assert result["appends"] == 3 and result["rows_per_append"] == 100_000
    assert positive(result["p50_s"], result["p99_s"], result["peer"]["seconds"])
    assert result["p99_s"] >= result["p50_s"]
    assert "p99" in render(rows({"stream": result}))
