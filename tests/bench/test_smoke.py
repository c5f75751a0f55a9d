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
    assert result["tasks"] == result["peer"]["tasks"] == 20
    assert positive(result["tasks_per_s"], result["steady_tasks_per_s"],
                    result["peer"]["tasks_per_s"], result["ratio"])
    assert result["overhead_definition"].startswith("1000 / steady tasks/s")
    assert result["target"]["met"] == (result["overhead_ms_per_task"] <= 2.0)
    assert "overhead_ms_per_task (steady)" in render(rows({"throughput": result}))


def test_data_job(tmp_path: Path) -> None:
    result = run_data_job(10_000, tmp_path)
    assert result["partitions"] == 32
    assert positive(result["wall_s"], result["upload_s"], result["peer"]["numpy_s"],
                    result["peer"]["pool_s"])
    assert result["ratio_vs_pool"] == pytest.approx(result["wall_s"] / result["peer"]["pool_s"])
    assert "vs Pool(2)" in render(rows({"data_job": result}))


def test_api(tmp_path: Path) -> None:
    result = run_api(0.25, tmp_path)
    for endpoint in ("post_jobs", "get_job"):
        for side in (result, result["peer"]):
            assert side[endpoint]["requests"] == 50
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


def test_stream(tmp_path: Path) -> None:
    result = run_stream(3, tmp_path)
    assert result["appends"] == 3 and result["rows_per_append"] == 100_000
    assert positive(result["p50_s"], result["p99_s"], result["peer"]["seconds"])
    assert result["p99_s"] >= result["p50_s"]
    assert "p99" in render(rows({"stream": result}))
