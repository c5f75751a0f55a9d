"""Every operation through `femto serve`'s HTTP API equals NumPy on the whole array.

One scheduler on the embedded cluster (2 agents, real executor processes)
serves the whole module; data is split into 9 uneven partitions.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.framework.helpers import fetch, running_service, submit, upload, wait_done

PARTITIONS = 9
RNG = np.random.default_rng(42)
X = np.concatenate([RNG.normal(50.0, 30.0, 100_003), [0.0, 100.0, 25.0, -1e-300]])
Y = RNG.uniform(-5, 5, X.size)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with running_service(tmp_path_factory.mktemp("femto")) as (_, client):
        upload(client, "x", X, PARTITIONS)
        upload(client, "y", Y, PARTITIONS)
        yield client


def run(api: httpx.Client, operation: str, params: dict, inputs: list[str] | None = None,
        output: str | None = None) -> dict:
    job = submit(api, {"name": f"t-{operation}", "operation": operation, "params": params,
                       "inputs": inputs or ["x"], "output": output})
    done = wait_done(api, job["id"])
    assert done["state"] == "FINISHED", done
    assert done["tasks"] == {"total": PARTITIONS, "pending": 0, "running": 0,
                             "finished": PARTITIONS, "failed": 0, "killed": 0}
    return done


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        ("count", {}, X.size),
        ("count", {"where": {"min": 10.0, "max": 60.0}}, int(((X >= 10) & (X < 60)).sum())),
        ("sum", {}, X.sum()),
        ("sum", {"where": {"min": 25.0}}, X[X >= 25].sum()),
        ("mean", {}, X.mean()),
        ("mean", {"where": {"max": 0.0}}, X[X < 0].mean()),
        ("min", {}, X.min()),
        ("max", {}, X.max()),
    ],
)
def test_queries_equal_numpy(api: httpx.Client, operation: str, params: dict,
                             expected: float) -> None:
    value = run(api, operation, params)["result"]["value"]
    if operation in ("count", "min", "max"):
        assert value == expected
    else:
        assert value == pytest.approx(expected, rel=1e-9)


def test_histogram_is_exactly_numpys(api: httpx.Client) -> None:
    result = run(api, "histogram", {"bins": 50, "range": [0.0, 100.0]})["result"]
    counts, edges = np.histogram(X, 50, (0.0, 100.0))
    assert result["counts"] == counts.tolist()
    assert result["edges"] == edges.tolist()


def test_histogram_with_where(api: httpx.Client) -> None:
    result = run(api, "histogram", {"bins": 7, "range": [0.0, 100.0],
                                    "where": {"min": 20.0, "max": 70.0}})["result"]
    selected = X[(X >= 20) & (X < 70)]
    assert result["counts"] == np.histogram(selected, 7, (0.0, 100.0))[0].tolist()


def test_real2bin(api: httpx.Client) -> None:
    done = run(api, "real2bin", {}, output="x-bits")
    assert done["result"] == {"dataset": "x-bits"}
    got = fetch(api, "x-bits")
    expected = np.floor(X).astype(np.int64) % 2
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    info = api.get("/v1/datasets/x-bits").json()
    assert info["partitions"] == PARTITIONS and info["shape"] == [X.size]


def test_add(api: httpx.Client) -> None:
    run(api, "add", {}, inputs=["x", "y"], output="x-plus-y")
    np.testing.assert_array_equal(fetch(api, "x-plus-y"), X + Y)


@pytest.mark.parametrize("window", [1, 5, 20_000])
def test_sliding_mean_across_partition_boundaries(api: httpx.Client, window: int) -> None:
    run(api, "sliding_mean", {"window": window}, output=f"x-smooth-{window}")
    got = fetch(api, f"x-smooth-{window}")
    csum = np.concatenate([[0.0], np.cumsum(X, dtype=np.float64)])
    idx = np.arange(X.size)
    lo = np.maximum(0, idx - window + 1)
    expected = (csum[idx + 1] - csum[lo]) / (idx + 1 - lo)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_command_runs_an_external_program_per_partition(api: httpx.Client,
                                                        tmp_path: Path) -> None:
    script = tmp_path / "double.py"
    script.write_text(
        "import sys, io, numpy as np\n"
        "a = np.load(io.BytesIO(sys.stdin.buffer.read()))\n"
        "out = io.BytesIO(); np.save(out, a * 2); sys.stdout.buffer.write(out.getvalue())\n"
    )
    run(api, "command", {"argv": [sys.executable, str(script)]}, output="x-doubled")
    np.testing.assert_array_equal(fetch(api, "x-doubled"), X * 2)


def test_task_views_show_attempts(api: httpx.Client) -> None:
    done = run(api, "count", {})
    tasks = api.get(f"/v1/jobs/{done['id']}/tasks").json()
    assert [t["partition"] for t in tasks] == list(range(PARTITIONS))
    for t in tasks:
        assert t["state"] == "FINISHED"
        assert len(t["attempts"]) == 1
        attempt = t["attempts"][0]
        assert attempt["state"] == "TASK_FINISHED"
        assert attempt["host"].startswith("agent-")
    hosts = {t["attempts"][0]["host"] for t in tasks}
    assert len(hosts) == 2, "both agents should take work"
