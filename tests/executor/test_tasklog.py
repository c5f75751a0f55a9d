"""Each task's own log files: run_task with real files and real child processes."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np

from femto.executor.runner import Outcome, TaskOutcome, run_task
from femto.executor.tasklog import TaskLog
from femto.jobs.datasets import load_npy
from tests.executor.conftest import FakeApi
from tests.executor.test_runner import DOUBLE, payload, save
from tests.waiting import wait_for

NOWHERE = "http://127.0.0.1:9/out"  # a transform needs an output url; failing tasks never use it


def run_logged(task: dict[str, object], log: TaskLog,
               cancel: threading.Event | None = None) -> TaskOutcome:
    return run_task(task, cancel or threading.Event(), lambda fraction: None, task_log=log)


def opened(tmp_path: Path, task_id: str = "job1.0.0") -> TaskLog:
    log = TaskLog.for_task(tmp_path / "sandbox", task_id)
    assert log is not None
    return log


def test_log_files_live_under_tasks_in_the_sandbox(tmp_path: Path) -> None:
    log = opened(tmp_path, "j.3.1")
    assert log.stdout == tmp_path / "sandbox" / "tasks" / "j.3.1" / "stdout"
    assert log.stderr == tmp_path / "sandbox" / "tasks" / "j.3.1" / "stderr"


def test_a_task_id_that_is_not_one_path_component_gets_no_log(tmp_path: Path) -> None:
    for bad in ("", ".", "..", "../escape", "a/b"):
        assert TaskLog.for_task(tmp_path, bad) is None
    assert list(tmp_path.iterdir()) == []


def test_an_in_process_task_that_succeeds_writes_nothing(tmp_path: Path) -> None:
    log = opened(tmp_path)
    outcome = run_logged(payload("sum", [save(tmp_path, "x", np.ones(3))]), log)
    assert outcome.state is Outcome.FINISHED
    assert not (tmp_path / "sandbox").exists()


def test_a_failing_command_leaves_its_stderr_and_the_failure(tmp_path: Path) -> None:
    log = opened(tmp_path)
    task = payload("command", [save(tmp_path, "x", np.ones(3))],
                   {"argv": ["sh", "-c", "echo boom >&2; exit 1"]}, output=NOWHERE)
    outcome = run_logged(task, log)
    assert outcome.state is Outcome.FAILED
    assert outcome.message is not None and "boom" in outcome.message
    stderr = log.stderr.read_text()
    assert stderr.startswith("boom\n")
    assert "CommandError" in stderr and "Traceback" in stderr
    assert stderr.rstrip().endswith("TASK_FAILED: CommandError: 'sh' exited with status 1: boom")
    stdout = log.stdout.read_text().splitlines()
    assert len(stdout) == 2
    assert stdout[0].endswith("command of job job1, partition 0, attempt 0: started")
    assert stdout[1].endswith("TASK_FAILED: CommandError: 'sh' exited with status 1: boom")


def test_a_succeeding_command_keeps_its_stderr_and_its_stdout_is_the_data(
    tmp_path: Path, api: FakeApi
) -> None:
    log = opened(tmp_path)
    data = np.arange(4, dtype=np.float64)
    chatty = "import sys; print('working', file=sys.stderr, flush=True); " + DOUBLE
    task = payload("command", [save(tmp_path, "x", data)],
                   {"argv": [sys.executable, "-c", chatty]}, output=api.output_url("j", 0))
    outcome = run_logged(task, log)
    assert outcome.state is Outcome.FINISHED, outcome.message
    np.testing.assert_array_equal(load_npy(api.output("j", 0)), data * 2)
    assert log.stderr.read_text() == "working\n"
    assert log.stdout.read_text().splitlines()[-1].endswith(" TASK_FINISHED")


def test_the_stderr_of_a_running_command_can_be_read_before_it_ends(tmp_path: Path) -> None:
    log = opened(tmp_path)
    cancel = threading.Event()
    task = payload("command", [save(tmp_path, "x", np.ones(2))],
                   {"argv": ["sh", "-c", "echo early >&2; sleep 60"]}, output=NOWHERE)
    outcomes: list[TaskOutcome] = []
    worker = threading.Thread(target=lambda: outcomes.append(run_logged(task, log, cancel)))
    worker.start()
    try:
        wait_for(lambda: log.stderr.exists() and log.stderr.read_text() == "early\n", 10,
                 "the program's first line")
    finally:
        cancel.set()
        worker.join(20)
    assert outcomes[0].state is Outcome.KILLED
    assert log.stdout.read_text().splitlines()[-1].endswith(" TASK_KILLED")


def test_a_failure_in_femto_code_leaves_its_traceback(tmp_path: Path) -> None:
    log = opened(tmp_path)
    task = payload("histogram", [save(tmp_path, "x", np.ones(2))], {"bins": 0})
    outcome = run_logged(task, log)
    assert outcome.state is Outcome.FAILED
    stderr = log.stderr.read_text()
    assert "Traceback" in stderr and "TaskError: bad params for histogram" in stderr


def test_concurrent_tasks_write_only_their_own_stderr(tmp_path: Path) -> None:
    logs = [opened(tmp_path, f"job1.{i}.0") for i in range(4)]
    tasks = [payload("command", [save(tmp_path, f"x{i}", np.ones(2))],
                     {"argv": ["sh", "-c", f"sleep 0.2; echo task-{i} >&2; exit 1"]},
                     output=NOWHERE) for i in range(4)]
    threads = [threading.Thread(target=run_logged, args=(t, log))
               for t, log in zip(tasks, logs, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    for i, log in enumerate(logs):
        lines = log.stderr.read_text().splitlines()
        assert lines[0] == f"task-{i}"
        others = {f"task-{j}" for j in range(4) if j != i}
        assert not others & set(lines)
