"""`femto run`: one job on an embedded cluster, its result printed; data never made up."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from femto.jobs.examples.data import example_dataset
from tests.cli.helpers import FEMTO, on_a_terminal
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEMTO, "run", *args], capture_output=True, text=True, timeout=120)


def test_a_shipped_example_generates_its_data_and_says_so() -> None:
    done = run(str(REPO / "jobs" / "examples" / "pt-sum-hard.json"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "femto: generated example data for 'events': 2,000,000 values\n"
    events = example_dataset("events")
    # Captured, stdout is the job's final JSON (DESIGN.md's contract for `femto run`).
    job = json.loads(done.stdout)
    assert job["state"] == "FINISHED"
    assert job["result"]["value"] == pytest.approx(events[events >= 20.0].sum(), rel=1e-9)


def test_run_draws_a_histogram_on_a_terminal_and_prints_json_otherwise(tmp_path: Path) -> None:
    data = np.random.default_rng(3).uniform(0, 10, 10_000)
    np.save(tmp_path / "d.npy", data)
    spec = tmp_path / "h.json"
    spec.write_text(json.dumps({"name": "h", "operation": "histogram", "inputs": ["d"],
                                "params": {"bins": 10, "range": [0, 10]}}))
    args = [str(spec), "--data", f"d={tmp_path / 'd.npy'}", "--partitions", "7"]
    human = on_a_terminal(None, "run", *args)
    assert human.returncode == 0 and human.stderr == "", human.stderr
    counts = np.histogram(data, 10, (0, 10))[0]
    assert "result   histogram of 10,000 values in 10 bins" in human.stdout
    assert f"  [0, 1)   {counts[0]:>5,}  " in human.stdout
    done = run(*args)
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["state"] == "FINISHED" and job["tasks"]["total"] == 7
    assert job["result"]["counts"] == counts.tolist()
def test_femto_run_exits_1_when_the_job_fails(tmp_path: Path) -> None:
    np.save(tmp_path / "d.npy", np.arange(10.0))
    spec = tmp_path / "f.json"
    spec.write_text(json.dumps({"name": "f", "operation": "command", "inputs": ["d"],
                                "params": {"argv": ["false"]}, "max_retries": 0}))
    done = run("--json", str(spec), "--data", f"d={tmp_path / 'd.npy'}")
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
    done = run("--json", str(spec), "--data", f"x={tmp_path / 'x.npy'}", "--partitions", "7")
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
    data = [arg for name in inputs for arg in ("--data", f"{name}={tmp_path / name}.npy")]
    done = run("--json", str(spec), *data, "--partitions", "7",
               "-o", str(tmp_path / "out.npy"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == {"dataset": "out"}
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected(x, y), rtol=1e-12)


def test_ctrl_c_stops_the_job_and_its_cluster(tmp_path: Path) -> None:
    np.save(tmp_path / "d.npy", np.arange(10.0))
    spec = tmp_path / "slow.json"
    spec.write_text(json.dumps({"name": "slow", "operation": "command", "inputs": ["d"],
                                "params": {"argv": ["sh", "-c", "sleep 47.125; cat"]}}))
    runner = subprocess.Popen([FEMTO, "run", str(spec), "--data", f"d={tmp_path / 'd.npy'}",
                               "--partitions", "2"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def sleepers() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["cmdline"])
                if p.info["cmdline"] == ["sleep", "47.125"]]

    wait_for(lambda: len(sleepers()) == 2, 60, "both tasks to run")
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=60)
    assert (runner.returncode, out, err) == (130, "", "femto: interrupted\n")
    assert sleepers() == []  # the embedded cluster took its tasks' programs along


def test_femto_run_runs_a_workflow_and_prints_its_final_result(tmp_path: Path) -> None:
    x, y = RUN_DATA[:5000], RUN_DATA[5000:10000]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    spec = tmp_path / "wf.json"
    spec.write_text(json.dumps({"name": "joined", "steps": {
        "smooth": {"operation": "sliding_mean", "inputs": ["x"], "params": {"window": 50}},
        "both": {"operation": "add", "inputs": ["@smooth", "y"]},
        "total": {"operation": "sum", "inputs": ["@both"]},
    }}))
    args = [str(spec), "--data", f"x={tmp_path / 'x.npy'}", "--data", f"y={tmp_path / 'y.npy'}",
            "--partitions", "3"]
    expected = (sliding(x, 50) + y).sum()
    human = on_a_terminal(None, "run", *args)
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert lines[0].startswith("workflow ") and lines[0].endswith("  joined")
    assert lines[1] == "state    FINISHED"
    assert lines[-1].startswith("result   step total: ")
    assert float(lines[-1].split()[-1]) == pytest.approx(expected, rel=1e-9)
    done = run(*args)  # captured: JSON, as with --json
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["workflow"]["state"] == "FINISHED"
    assert [s["state"] for s in shown["workflow"]["steps"].values()] == ["FINISHED"] * 3
    assert list(shown["jobs"]) == ["total"]
    assert shown["jobs"]["total"]["result"]["value"] == pytest.approx(expected, rel=1e-9)


def test_femto_run_names_a_workflow_input_without_data(tmp_path: Path) -> None:
    spec = tmp_path / "wf.json"
    spec.write_text(json.dumps({"name": "w", "steps": {
        "total": {"operation": "sum", "inputs": ["nothing-here"]}}}))
    done = run(str(spec))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == ("femto: input 'nothing-here' has no data: give "
                           "--data nothing-here=FILE.npy\n")


def test_a_shipped_example_workflow_generates_its_data_and_prints_its_result() -> None:
    done = run(str(REPO / "jobs" / "examples" / "signal-diamond.json"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "femto: generated example data for 'signal': 1,000,000 values\n"
    signal_ = example_dataset("signal")
    window, sums = 100, np.concatenate([[0.0], np.cumsum(signal_)])
    end = np.arange(1, signal_.size + 1)
    start = np.maximum(0, end - window)
    smooth = (sums[end] - sums[start]) / (end - start)
    expected = (np.clip(signal_, -15.0, 15.0) + smooth).sum()
    shown = json.loads(done.stdout)
    assert shown["workflow"]["state"] == "FINISHED"
    assert shown["jobs"]["total"]["result"]["value"] == pytest.approx(
        expected, rel=1e-9, abs=1e-6)


def test_data_for_an_input_the_job_does_not_read_is_a_mistake(tmp_path: Path) -> None:
    # Not silently ignored: with an example, femto would compute on generated data instead.
    np.save(tmp_path / "d.npy", np.arange(10.0))
    done = run(str(REPO / "jobs" / "examples" / "pt-histogram.json"),
               "--data", f"d={tmp_path / 'd.npy'}")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.endswith("reads no input of that name (its inputs: events)\n")
    assert "generated" not in done.stderr


def test_a_copy_of_a_shipped_example_is_the_example_still(tmp_path: Path) -> None:
    copy = tmp_path / "pt-sum-hard.json"
    copy.write_bytes((REPO / "jobs" / "examples" / "pt-sum-hard.json").read_bytes())
    done = run(str(copy))
    assert done.returncode == 0, done.stderr
    assert "generated example data for 'events'" in done.stderr
    edited = tmp_path / "edited" / "pt-sum-hard.json"
    edited.parent.mkdir()
    edited.write_text(copy.read_text().replace("20.0", "30.0"))
    refused = run(str(edited))
    assert refused.returncode == 1 and "input 'events' has no data" in refused.stderr
