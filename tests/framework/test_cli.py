"""The `femto` command as a user runs it: a real console script against a live scheduler."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from femto.cli import api_token, build_parser
from femto.service import Service, check_exposure
from tests.framework.helpers import running_service

FEMTO = shutil.which("femto", path=str(Path(sys.executable).parent)) or "femto"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("femto"), api_token="t0ken") as (service, _):
        yield service


def femto(service: Service, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FEMTO_URL": service.url, "FEMTO_API_TOKEN": "t0ken"}
    done = subprocess.run([FEMTO, *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_dataset_put_list_get_round_trip(served: Service, tmp_path: Path) -> None:
    data = np.random.default_rng(1).normal(size=1000)
    np.save(tmp_path / "in.npy", data)
    put = json.loads(femto(served, "dataset", "put", "cli-data", str(tmp_path / "in.npy"),
                           "--partitions", "7").stdout)
    assert put == {"name": "cli-data", "dtype": "<f8", "shape": [1000], "partitions": 7}
    assert "cli-data" in femto(served, "dataset", "list").stdout
    femto(served, "dataset", "get", "cli-data", "-o", str(tmp_path / "out.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), data)


def test_submit_wait_status_result_and_jobs(served: Service, tmp_path: Path) -> None:
    data = np.arange(500, dtype=np.float64)
    np.save(tmp_path / "d.npy", data)
    femto(served, "dataset", "put", "cli-sum", str(tmp_path / "d.npy"), "--partitions", "7")
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps({"name": "cli-sum", "operation": "sum", "inputs": ["cli-sum"]}))
    job = json.loads(femto(served, "submit", str(spec), "--wait").stdout)
    assert job["state"] == "FINISHED" and job["result"] == {"value": float(data.sum())}
    status = json.loads(femto(served, "status", job["id"]).stdout)
    assert status["id"] == job["id"] and status["tasks"]["finished"] == 7
    assert json.loads(femto(served, "result", job["id"]).stdout) == {"value": float(data.sum())}
    listing = femto(served, "jobs").stdout
    assert job["id"] in listing and "FINISHED" in listing
    assert job["id"] in femto(served, "jobs", "--state", "FINISHED").stdout


def test_cancel_and_result_of_a_cancelled_job(served: Service, tmp_path: Path) -> None:
    np.save(tmp_path / "d.npy", np.arange(4.0))
    femto(served, "dataset", "put", "cli-slow", str(tmp_path / "d.npy"), "--partitions", "2")
    spec = tmp_path / "slow.json"
    spec.write_text(json.dumps({"name": "slow", "operation": "command", "inputs": ["cli-slow"],
                                "params": {"argv": ["sh", "-c", "sleep 60; cat"]}}))
    job = json.loads(femto(served, "submit", str(spec)).stdout)
    assert job["state"] == "PENDING"
    assert json.loads(femto(served, "cancel", job["id"]).stdout)["state"] == "CANCELLED"
    result = femto(served, "result", job["id"], check=False)
    assert result.returncode == 1 and "CANCELLED" in result.stderr


def test_errors_are_clear_and_exit_non_zero(served: Service, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "operation": "histogram", "inputs": ["cli-data"],
                               "params": {"bins": 0, "range": [0, 1]}}))
    done = femto(served, "submit", str(bad), check=False)
    assert done.returncode == 1 and "params.bins" in done.stderr
    missing = femto(served, "status", "no-such-job", check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr
    env = {**os.environ, "FEMTO_URL": served.url}
    unauthorized = subprocess.run([FEMTO, "jobs"], capture_output=True, text=True, env=env,
                                  timeout=60)
    assert unauthorized.returncode == 1 and "401" in unauthorized.stderr


def test_serve_names_what_keeps_it_from_starting(served: Service, tmp_path: Path) -> None:
    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FEMTO, "serve", "--state-dir", str(tmp_path), *args],
                              capture_output=True, text=True, timeout=60)

    no_agents = serve("--agents", "0")
    assert no_agents.returncode == 2 and "--agents: must be at least 1" in no_agents.stderr
    bad_limit = serve("--limit", "colour=3")
    assert bad_limit.returncode == 1 and "--limit 'colour=3'" in bad_limit.stderr
    bad_listen = serve("--listen", "nowhere")
    assert bad_listen.returncode == 1
    assert "--listen 'nowhere' must be HOST:PORT" in bad_listen.stderr
    taken = served.url.removeprefix("http://")
    busy = serve("--listen", taken)
    assert busy.returncode == 1 and f"cannot listen on {taken}" in busy.stderr
    for done in (bad_limit, bad_listen, busy):
        assert "Traceback" not in done.stderr, done.stderr


def test_serve_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FEMTO_API_TOKEN"}
    exposed = subprocess.run([FEMTO, "serve", "--state-dir", str(tmp_path),
                              "--listen", "0.0.0.0:0"],
                             capture_output=True, text=True, timeout=60, env=env)
    assert exposed.returncode == 1, exposed.stderr
    assert "no API token" in exposed.stderr and "--insecure" in exposed.stderr
    assert "Traceback" not in exposed.stderr


def test_exposure_rules() -> None:
    # The allowed cases are checked without binding beyond loopback (tests never do).
    check_exposure("127.0.0.1:8080", None, insecure=False)
    check_exposure("[::1]:8080", None, insecure=False)
    check_exposure("localhost:8080", None, insecure=False)
    check_exposure("0.0.0.0:8080", "t0ken", insecure=False)
    check_exposure("0.0.0.0:8080", None, insecure=True)
    for exposed in ("0.0.0.0:8080", "10.1.2.3:8080", "myhost:8080", "[::]:8080"):
        with pytest.raises(ValueError, match="no API token"):
            check_exposure(exposed, None, insecure=False)


def test_serve_reads_its_token_from_a_file_not_the_command_line(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    env = {k: v for k, v in os.environ.items() if k != "FEMTO_API_TOKEN"}
    proc = subprocess.Popen(
        [FEMTO, "serve", "--state-dir", str(tmp_path / "state"), "--listen", "127.0.0.1:0",
         "--api-token-file", str(token_file)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:"), url
        assert httpx.get(f"{url}/v1/jobs", timeout=10).status_code == 401
        good = httpx.get(f"{url}/v1/jobs", headers={"Authorization": "Bearer from-a-file"},
                         timeout=10)
        assert good.status_code == 200, good.text
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_serve_takes_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve"])
    monkeypatch.delenv("FEMTO_API_TOKEN", raising=False)
    assert api_token(args) is None
    monkeypatch.setenv("FEMTO_API_TOKEN", "from-env")
    assert api_token(args) == "from-env"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SystemExit, match="is empty"):
        api_token(build_parser().parse_args(["serve", "--api-token-file",
                                             str(tmp_path / "empty")]))
    with pytest.raises(SystemExit, match="cannot read --api-token-file"):
        api_token(build_parser().parse_args(["serve", "--api-token-file",
                                             str(tmp_path / "missing")]))


def test_femto_run_prints_the_finished_job(tmp_path: Path) -> None:
    data = np.random.default_rng(3).uniform(0, 10, 10_000)
    np.save(tmp_path / "d.npy", data)
    spec = tmp_path / "h.json"
    spec.write_text(json.dumps({"name": "h", "operation": "histogram", "inputs": ["d"],
                                "params": {"bins": 10, "range": [0, 10]}}))
    done = subprocess.run([FEMTO, "run", str(spec), "--data", f"d={tmp_path / 'd.npy'}",
                           "--partitions", "7"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["state"] == "FINISHED" and job["tasks"]["total"] == 7
    assert job["result"]["counts"] == np.histogram(data, 10, (0, 10))[0].tolist()


def test_femto_run_exits_1_when_the_job_fails(tmp_path: Path) -> None:
    np.save(tmp_path / "d.npy", np.arange(10.0))
    spec = tmp_path / "f.json"
    spec.write_text(json.dumps({"name": "f", "operation": "command", "inputs": ["d"],
                                "params": {"argv": ["false"]}, "max_retries": 0}))
    done = subprocess.run([FEMTO, "run", str(spec), "--data", f"d={tmp_path / 'd.npy'}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert json.loads(done.stdout)["state"] == "FAILED"


RUN_DATA = np.random.default_rng(5).normal(10.0, 4.0, 20_000)
RUN_CASES = [
    ("count", {"where": {"min": 8.0}}, {"value": int((RUN_DATA >= 8).sum())}),
    ("sum", {}, {"value": RUN_DATA.sum()}),
    ("mean", {"where": {"max": 12.0}}, {"value": RUN_DATA[RUN_DATA < 12].mean()}),
    ("min", {}, {"value": RUN_DATA.min()}),
    ("max", {}, {"value": RUN_DATA.max()}),
    ("histogram", {"bins": 12, "range": [0.0, 24.0]},
     {"counts": np.histogram(RUN_DATA, 12, (0.0, 24.0))[0].tolist(),
      "edges": np.histogram(RUN_DATA, 12, (0.0, 24.0))[1].tolist()}),
]


@pytest.mark.parametrize(("operation", "params", "expected"), RUN_CASES,
                         ids=[c[0] for c in RUN_CASES])
def test_femto_run_queries_equal_numpy(tmp_path: Path, operation: str, params: dict,
                                       expected: dict) -> None:
    np.save(tmp_path / "x.npy", RUN_DATA)
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps({"name": operation, "operation": operation, "params": params,
                                "inputs": ["x"]}))
    done = subprocess.run([FEMTO, "run", str(spec), "--data", f"x={tmp_path / 'x.npy'}",
                           "--partitions", "7"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["result"]
    if operation in ("sum", "mean"):
        assert result["value"] == pytest.approx(expected["value"], rel=1e-9)
    else:
        assert result == expected


def sliding(x: np.ndarray, window: int) -> np.ndarray:
    return np.array([x[max(0, i - window + 1):i + 1].mean() for i in range(x.size)])


RUN_TRANSFORMS = [
    ("real2bin", {}, ["x"], lambda x, y: np.floor(x).astype(np.int64) % 2),
    ("add", {}, ["x", "y"], lambda x, y: x + y),
    ("sliding_mean", {"window": 700}, ["x"], lambda x, y: sliding(x, 700)),
    ("command", {"argv": ["cat"]}, ["x"], lambda x, y: x),
]


@pytest.mark.parametrize(("operation", "params", "inputs", "expected"), RUN_TRANSFORMS,
                         ids=[c[0] for c in RUN_TRANSFORMS])
def test_femto_run_transforms_equal_numpy(tmp_path: Path, operation: str, params: dict,
                                          inputs: list[str], expected: Any) -> None:
    x, y = RUN_DATA[:5000], RUN_DATA[5000:10000]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps({"name": operation, "operation": operation, "params": params,
                                "inputs": inputs, "output": "out"}))
    done = subprocess.run([FEMTO, "run", str(spec), "--data", f"x={tmp_path / 'x.npy'}",
                           "--data", f"y={tmp_path / 'y.npy'}", "--partitions", "7",
                           "-o", str(tmp_path / "out.npy")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == {"dataset": "out"}
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected(x, y), rtol=1e-12)
