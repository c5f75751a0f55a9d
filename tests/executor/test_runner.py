"""run_task end to end without Mesos: real files, a real HTTP server, real child processes."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from femto.executor.runner import COMPUTED, INPUTS_READ, Outcome, TaskOutcome, run_task
from femto.jobs.datasets import load_npy
from femto.jobs.operations import get_operation
from femto.jobs.wire import OutputMeta, TaskResult
from tests.executor.conftest import FakeApi
from tests.waiting import wait_for

RNG = np.random.default_rng(7)


def save(tmp_path: Path, name: str, array: np.ndarray) -> dict[str, Any]:
    """Write `array` as a .npy partition file and return its input reference."""
    path = tmp_path / f"{name}.npy"
    np.save(path, array)
    return {"uri": path.as_uri(), "url": None, "length": len(array), "dtype": str(array.dtype)}


def payload(
    operation: str,
    inputs: list[dict[str, Any]],
    params: dict[str, Any] | None = None,
    *,
    left: list[dict[str, Any]] | None = None,
    output: str | None = None,
    credential: str | None = None,
) -> dict[str, Any]:
    return {
        "job_id": "job1",
        "partition": 0,
        "attempt": 0,
        "operation": operation,
        "params": params or {},
        "inputs": inputs,
        "left": left or [],
        "output": {"url": output} if output else None,
        "credential": credential,
    }


def run(task: dict[str, Any] | bytes, cancel: threading.Event | None = None) -> TaskOutcome:
    return run_task(task, cancel or threading.Event(), lambda fraction: None)


QUERIES = [
    ("count", {}, lambda x: x.size),
    ("count", {"where": {"min": 10.0, "max": 60.0}}, lambda x: ((x >= 10) & (x < 60)).sum()),
    ("sum", {}, np.sum),
    ("sum", {"where": {"max": 50.0}}, lambda x: x[x < 50].sum()),
    ("mean", {}, np.mean),
    ("min", {}, np.min),
    ("max", {}, np.max),
]


@pytest.mark.parametrize(("operation", "params", "expected"), QUERIES)
def test_query_from_a_local_file_matches_numpy(
    tmp_path: Path, operation: str, params: dict[str, Any], expected: Any
) -> None:
    data = RNG.uniform(0, 100, 10_000)
    outcome = run(payload(operation, [save(tmp_path, "x", data)], params))
    assert outcome.state is Outcome.FINISHED, outcome.message
    assert outcome.result is not None
    op = get_operation(operation)
    result = op.reduce([outcome.result.result], op.parse_params(params))
    assert result["value"] == pytest.approx(float(expected(data)), rel=1e-12)


def test_histogram_over_http_with_a_credential_is_numpys(api: FakeApi) -> None:
    data = RNG.normal(50, 20, 5_000)
    api.credential = "s3cret"
    url = api.add_partition("events", 0, data)
    ref = {"uri": None, "url": url, "length": len(data), "dtype": "float64"}
    params = {"bins": 20, "range": [0.0, 100.0]}
    outcome = run(payload("histogram", [ref], params, credential="s3cret"))
    assert outcome.state is Outcome.FINISHED, outcome.message
    assert outcome.result is not None
    counts, edges = np.histogram(data, 20, (0.0, 100.0))
    op = get_operation("histogram")
    result = op.reduce([outcome.result.result], op.parse_params(params))
    assert result["counts"] == counts.tolist()
    assert result["edges"] == pytest.approx(edges.tolist())


def test_a_uri_missing_on_this_machine_falls_back_to_the_url(tmp_path: Path, api: FakeApi) -> None:
    data = np.arange(100, dtype=np.float64)
    url = api.add_partition("x", 0, data)
    ref = {
        "uri": (tmp_path / "elsewhere.npy").as_uri(),
        "url": url,
        "length": 100,
        "dtype": "float64",
    }
    outcome = run(payload("sum", [ref]))
    assert outcome.state is Outcome.FINISHED, outcome.message
    assert outcome.result == TaskResult(result={"value": 4950.0})
    assert api.calls == [("GET", "/executor/datasets/x/partitions/0")]


def test_transform_uploads_its_output(tmp_path: Path, api: FakeApi) -> None:
    data = RNG.uniform(-10, 10, 1_000)
    api.credential = "tok"
    outcome = run(
        payload(
            "real2bin", [save(tmp_path, "x", data)], output=api.output_url("job1", 0),
            credential="tok",
        )
    )
    assert outcome.state is Outcome.FINISHED, outcome.message
    assert outcome.result == TaskResult(
        output=OutputMeta(length=1_000, dtype=np.dtype("int64").str, shape=[1_000]))
    np.testing.assert_array_equal(
        load_npy(api.output("job1", 0)), np.floor(data).astype(np.int64) % 2
    )
    assert api.content_types == ["application/octet-stream"]


def test_add_reads_one_input_from_disk_and_one_over_http(tmp_path: Path, api: FakeApi) -> None:
    a = RNG.uniform(0, 1, 500)
    b = RNG.uniform(0, 1, 500)
    remote = {"uri": None, "url": api.add_partition("b", 3, b), "length": 500, "dtype": "float64"}
    task = payload("add", [save(tmp_path, "a", a), remote], output=api.output_url("job1", 3))
    outcome = run(task)
    assert outcome.state is Outcome.FINISHED, outcome.message
    np.testing.assert_array_equal(load_npy(api.output("job1", 3)), a + b)


def sliding_mean(x: np.ndarray, window: int) -> np.ndarray:
    cumulative = np.concatenate([[0.0], np.cumsum(x)])
    ends = np.arange(1, len(x) + 1)
    starts = np.maximum(0, ends - window)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def test_sliding_mean_reads_the_left_tail_across_partitions(tmp_path: Path, api: FakeApi) -> None:
    data = RNG.uniform(0, 1, 300)
    parts = np.array_split(data, [100, 130])  # lengths 100, 30, 170
    window = 50  # longer than the middle partition: the tail spans two partitions
    refs = [save(tmp_path, f"p{i}", part) for i, part in enumerate(parts)]
    expected = sliding_mean(data, window)
    offsets = [0, 100, 130, 300]
    for i in range(3):
        task = payload(
            "sliding_mean",
            [refs[i]],
            {"window": window},
            left=refs[:i],
            output=api.output_url("job1", i),
        )
        outcome = run(task)
        assert outcome.state is Outcome.FINISHED, outcome.message
        np.testing.assert_allclose(
            load_npy(api.output("job1", i)), expected[offsets[i] : offsets[i + 1]], rtol=1e-12
        )


def test_left_tail_reads_only_the_partitions_it_needs(tmp_path: Path, api: FakeApi) -> None:
    data = RNG.uniform(0, 1, 60)
    _, second, third = np.split(data, 3)
    # The first partition is not served anywhere: reading it would fail the task.
    unread = {
        "uri": None,
        "url": f"{api.url}/executor/datasets/x/partitions/0",
        "length": 20,
        "dtype": "float64",
    }
    task = payload(
        "sliding_mean",
        [save(tmp_path, "p2", third)],
        {"window": 5},
        left=[unread, save(tmp_path, "p1", second)],
        output=api.output_url("job1", 2),
    )
    outcome = run(task)
    assert outcome.state is Outcome.FINISHED, outcome.message
    assert [call for call in api.calls if call[0] == "GET"] == []
    np.testing.assert_allclose(load_npy(api.output("job1", 2)), sliding_mean(data, 5)[40:])


def test_transient_server_errors_are_retried(tmp_path: Path, api: FakeApi) -> None:
    api.fail_next = 2
    data = np.arange(10, dtype=np.float64)
    outcome = run(payload("real2bin", [save(tmp_path, "x", data)], output=api.output_url("j", 0)))
    assert outcome.state is Outcome.FINISHED, outcome.message
    assert len(api.calls) == 3
    np.testing.assert_array_equal(load_npy(api.output("j", 0)), np.floor(data).astype(int) % 2)


def test_a_rejected_upload_fails_with_the_servers_message(tmp_path: Path, api: FakeApi) -> None:
    api.reject = 422
    outcome = run(
        payload("real2bin", [save(tmp_path, "x", np.ones(4))], output=api.output_url("j", 0))
    )
    assert outcome.state is Outcome.FAILED
    assert outcome.message is not None
    assert "422" in outcome.message and "output rejected" in outcome.message
    assert len(api.calls) == 1  # a 4xx is not retried


def test_wrong_credential_fails_the_read(api: FakeApi) -> None:
    api.credential = "right"
    url = api.add_partition("x", 0, np.ones(3))
    ref = {"uri": None, "url": url, "length": 3, "dtype": "float64"}
    outcome = run(payload("sum", [ref], credential="wrong"))
    assert outcome.state is Outcome.FAILED
    assert outcome.message is not None and "401" in outcome.message


def test_progress_is_reported_at_each_milestone(tmp_path: Path, api: FakeApi) -> None:
    seen: list[float] = []
    task = payload("real2bin", [save(tmp_path, "x", np.ones(8))], output=api.output_url("j", 0))
    outcome = run_task(task, threading.Event(), seen.append)
    assert outcome.state is Outcome.FINISHED
    assert seen == [INPUTS_READ, COMPUTED, 1.0]
    # Each input read before the last is progress too.
    seen.clear()
    inputs = [save(tmp_path, name, np.ones(4)) for name in ("a", "b")]
    run_task(payload("add", inputs, output=api.output_url("j", 1)), threading.Event(),
             seen.append)
    assert seen == [INPUTS_READ / 2, INPUTS_READ, COMPUTED, 1.0]


def test_an_operation_that_raises_fails_the_task_with_its_error(tmp_path: Path) -> None:
    a = save(tmp_path, "a", np.ones(5))
    b = save(tmp_path, "b", np.ones(6))
    outcome = run(payload("add", [a, b], output="http://127.0.0.1:9/unused"))
    assert outcome.state is Outcome.FAILED
    assert outcome.message is not None
    assert outcome.message.startswith("ValueError: ")
    assert "Traceback" not in outcome.message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"operation": "nope"}, "operation 'nope' is not installed on this agent"),
        ({"params": {"bins": 0}}, "bad params for histogram"),
        ({"inputs": []}, "inputs"),
        ({"partition": -1}, "partition"),
        ({"surprise": 1}, "surprise"),
        ({"inputs": [{"uri": "s3://bucket/x", "length": 1, "dtype": "float64"}]}, "file://"),
        ({"inputs": [{"url": None, "uri": None, "length": 1, "dtype": "float64"}]}, "uri or a url"),
        ({"inputs": [{"uri": "file:///x.npy", "length": 1, "dtype": "nonsense"}]}, "dtype"),
    ],
)
def test_a_bad_payload_fails_with_a_message_naming_the_problem(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    task = payload("histogram", [save(tmp_path, "x", np.ones(3))], {"bins": 3, "range": [0, 1]})
    task.update(change)
    outcome = run(task)
    assert outcome.state is Outcome.FAILED
    assert outcome.message is not None and expected in outcome.message


def test_payload_that_is_not_json_fails(tmp_path: Path) -> None:
    outcome = run(b"\x00not json")
    assert outcome.state is Outcome.FAILED
    assert outcome.message is not None and "not JSON" in outcome.message


def test_wrong_arity_and_missing_output_fail(tmp_path: Path) -> None:
    x = save(tmp_path, "x", np.ones(3))
    outcome = run(payload("add", [x], output="http://127.0.0.1:9/out"))
    assert outcome.message is not None and "takes 2 input(s)" in outcome.message
    outcome = run(payload("real2bin", [x]))
    assert outcome.message is not None and "no output url" in outcome.message


def test_an_input_that_is_not_what_the_payload_says_fails(tmp_path: Path) -> None:
    ref = save(tmp_path, "x", np.ones(3))
    outcome = run(payload("sum", [{**ref, "length": 4}]))
    assert outcome.message is not None and "expected 4 elements, found 3" in outcome.message
    outcome = run(payload("sum", [{**ref, "dtype": "int32"}]))
    assert outcome.message is not None and "expected dtype int32" in outcome.message


DOUBLE = (
    "import io, sys, numpy as np; x = np.load(io.BytesIO(sys.stdin.buffer.read()));"
    "buf = io.BytesIO(); np.save(buf, x * 2); sys.stdout.buffer.write(buf.getvalue())"
)


def test_command_runs_an_external_program(tmp_path: Path, api: FakeApi) -> None:
    data = np.arange(5, dtype=np.float64)
    task = payload(
        "command",
        [save(tmp_path, "x", data)],
        {"argv": [sys.executable, "-c", DOUBLE]},
        output=api.output_url("j", 0),
    )
    outcome = run(task)
    assert outcome.state is Outcome.FINISHED, outcome.message
    np.testing.assert_array_equal(load_npy(api.output("j", 0)), data * 2)


def test_command_exiting_non_zero_fails_the_task(tmp_path: Path) -> None:
    task = payload(
        "command",
        [save(tmp_path, "x", np.ones(2))],
        {"argv": [sys.executable, "-c", "import sys; sys.exit(3)"]},
        output="http://127.0.0.1:9/out",
    )
    outcome = run(task)
    assert outcome.state is Outcome.FAILED
    assert outcome.message is not None and "3" in outcome.message



def test_cancel_kills_a_running_command_and_its_process_group(tmp_path: Path) -> None:
    # The program starts a grandchild and ignores SIGTERM: only SIGKILL of the group ends both.
    script = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    )
    task = payload(
        "command",
        [save(tmp_path, "x", np.ones(2))],
        {"argv": [sys.executable, "-c", script]},
        output="http://127.0.0.1:9/out",
    )
    cancel = threading.Event()
    outcomes: list[TaskOutcome] = []
    worker = threading.Thread(target=lambda: outcomes.append(run(task, cancel)))
    worker.start()
    me = psutil.Process()

    def sleepers() -> list[psutil.Process]:
        # Only this test's command and grandchild: other tests' processes may be exiting.
        return [k for k in me.children(recursive=True)
                if "time.sleep(60)" in " ".join(k.cmdline())]

    children = wait_for(
        lambda: (kids := sleepers()) and len(kids) >= 2 and kids,
        20,
        "the command and its grandchild to start",
    )
    cancel.set()
    worker.join(30)
    assert not worker.is_alive()
    assert outcomes[0].state is Outcome.KILLED
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []


def run_in_thread(task: dict[str, Any], compute: threading.Semaphore,
                  cancel: threading.Event) -> tuple[threading.Thread, list[TaskOutcome]]:
    outcomes: list[TaskOutcome] = []
    thread = threading.Thread(target=lambda: outcomes.append(
        run_task(task, cancel, lambda fraction: None, compute=compute)), daemon=True)
    thread.start()
    return thread, outcomes


def test_in_process_work_waits_for_a_compute_slot(tmp_path: Path) -> None:
    compute = threading.Semaphore(1)
    compute.acquire()  # another task computes
    data = RNG.uniform(0, 100, 1_000)
    thread, outcomes = run_in_thread(payload("sum", [save(tmp_path, "x", data)]), compute,
                                     threading.Event())
    thread.join(0.5)
    assert thread.is_alive() and not outcomes, "it computed without a slot"
    compute.release()
    thread.join(10)
    assert outcomes[0].state is Outcome.FINISHED, outcomes[0].message
    assert compute.acquire(blocking=False), "the slot was not given back"


def test_a_task_killed_while_waiting_for_a_slot_ends_killed(tmp_path: Path) -> None:
    compute = threading.Semaphore(1)
    compute.acquire()
    cancel = threading.Event()
    thread, outcomes = run_in_thread(payload("sum", [save(tmp_path, "x", np.ones(10))]),
                                     compute, cancel)
    cancel.set()
    thread.join(5)
    assert outcomes and outcomes[0].state is Outcome.KILLED


def test_a_command_runs_without_a_compute_slot(tmp_path: Path, api: FakeApi) -> None:
    compute = threading.Semaphore(1)
    compute.acquire()  # held throughout: a command's program computes in its own process
    data = np.arange(5.0)
    task = payload("command", [save(tmp_path, "x", data)], {"argv": ["cat"]},
                   output=api.output_url("job1", 0))
    thread, outcomes = run_in_thread(task, compute, threading.Event())
    thread.join(30)
    compute.release()  # lets a wrongly waiting task end
    assert outcomes and outcomes[0].state is Outcome.FINISHED, outcomes
    np.testing.assert_array_equal(load_npy(api.output("job1", 0)), data)
