"""FemtoExecutor: the Mesos-facing side of the executor.

One long-lived process per agent and framework. Each launched task runs `run_task` on a worker
thread; this class only tracks task states (see `executor/lifecycle.py`) and turns them into
status updates and progress messages.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from femto.executor.delayed import FixedDelay
from femto.executor.httpio import new_client
from femto.executor.lifecycle import MESOS_STATE, TERMINAL, TaskEvent, TaskState, transition
from femto.executor.pool import WorkerPool
from femto.executor.programs import GRACE_SECONDS as COMMAND_GRACE_SECONDS
from femto.executor.programs import end_all_programs
from femto.executor.runner import Outcome, TaskOutcome, run_task
from femto.executor.tasklog import TaskLog
from femto.jobs.wire import Progress
from mesosapi.encoding import decode_data, encode_data
from mesosapi.executor import Executor, MesosExecutorDriver
from mesosapi.taskstates import TaskState as MesosTaskState

log = logging.getLogger(__name__)

# How long a killed task's worker gets to return before the task is reported KILLED anyway:
# a command's process group gets SIGTERM, then SIGKILL after GRACE_SECONDS; NumPy work cannot
# be interrupted, so its late result is dropped.
KILL_GRACE = COMMAND_GRACE_SECONDS + 2.0
# Of the shutdown grace period, this much is kept for sending the updates and exiting before
# the agent kills the executor; the rest is spent waiting for the tasks to stop.
SHUTDOWN_MARGIN = 1.0
# At most one progress message per task per this many seconds (none for quick tasks).
PROGRESS_INTERVAL = 0.5
# TASK_RUNNING is held back this long after a task starts; a task that ends sooner sends only
# its terminal update. Well below any launch timeout, and short beside a human watching.
RUNNING_DELAY = 0.05

LIVE = frozenset({TaskState.STARTED, TaskState.RUNNING})  # working and not asked to stop

_EVENT_FOR_OUTCOME = {
    Outcome.FINISHED: TaskEvent.FINISHED,
    Outcome.FAILED: TaskEvent.FAILED,
    Outcome.LOST: TaskEvent.LOST,
    Outcome.KILLED: TaskEvent.STOPPED,
}


def shutdown_wait(grace_period: float) -> float:
    """How long to wait for tasks to stop within the agent's shutdown grace period."""
    return max(grace_period / 2, grace_period - SHUTDOWN_MARGIN)


def default_workers() -> int:
    """The most tasks run at once: 8 per core, at least 64.

    The agent admits only tasks whose resources fit, so running every launched task at once
    keeps the work Mesos accounted for and the RUNNING updates honest: workers are started as
    tasks arrive. Tasks are NumPy loops (which release the GIL) or waits on HTTP and child
    processes, so more threads than cores cost little; the bound only keeps a flood of tasks
    with tiny cpu shares from starting hundreds of threads. Tasks beyond it wait in a queue
    and are reported RUNNING when a worker starts them.
    """
    return max(64, 8 * (os.cpu_count() or 1))


@dataclass
class _Task:
    task_id: str
    data: bytes
    state: TaskState = TaskState.QUEUED
    cancel: threading.Event = field(default_factory=threading.Event)
    # Set once nothing of the task runs any more: its worker returned, or it never started.
    stopped: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_progress: float = 0.0  # when the last progress message went, or the task started
    sent_progress: float = 0.0  # the fraction it carried


class FemtoExecutor(Executor):
    """Runs femto tasks on up to `workers` threads at once (default: `default_workers()`)."""

    def __init__(self, *, workers: int | None = None) -> None:
        self._pool = WorkerPool(workers or default_workers())
        # NumPy work in more threads than cores only fights over the GIL: 16 histograms
        # took 52 ms of CPU in 7 threads against 32 ms in one.
        self._compute = threading.Semaphore(os.cpu_count() or 1)
        self._running_reports = FixedDelay(RUNNING_DELAY, "running-reports")
        self._http = new_client()
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._driver: MesosExecutorDriver | None = None
        self._sandbox: Path | None = None  # where the tasks' own logs go (MESOS_SANDBOX)

    # Mesos callbacks (on the driver's callback thread; none of them blocks for long but
    # shutdown, after which nothing else matters).

    def registered(
        self,
        driver: MesosExecutorDriver,
        executor_info: Mapping[str, Any],
        framework_info: Mapping[str, Any],
        agent_info: Mapping[str, Any],
    ) -> None:
        self._driver = driver
        log.info("registered on agent %s", agent_info.get("hostname"))

    def reregistered(self, driver: MesosExecutorDriver, agent_info: Mapping[str, Any]) -> None:
        self._driver = driver
        log.info("re-registered on agent %s", agent_info.get("hostname"))

    def disconnected(self, driver: MesosExecutorDriver) -> None:
        log.warning("disconnected from the agent")

    def launchTask(self, driver: MesosExecutorDriver, task: Mapping[str, Any]) -> None:
        self._driver = driver
        sandbox = driver.environment.sandbox
        self._sandbox = Path(sandbox) if sandbox else None
        task_id = task["task_id"]["value"]
        try:
            data = decode_data(task.get("data") or "")
        except ValueError as exc:
            # Run it anyway: run_task fails it with a message naming the payload.
            log.error("task %s: %s", task_id, exc)
            data = b""
        record = _Task(task_id, data)
        with self._lock:
            if task_id in self._tasks:
                log.warning("task %s launched twice; ignoring the second launch", task_id)
                return
            self._tasks[task_id] = record
        self._pool.submit(lambda: self._work(record))

    def launchTaskGroup(self, driver: MesosExecutorDriver, task_group: Mapping[str, Any]) -> None:
        self._driver = driver
        for task in task_group.get("tasks", []):
            self._send(
                task["task_id"]["value"],
                MesosTaskState.FAILED,
                message="the femto executor does not run task groups",
            )

    def killTask(self, driver: MesosExecutorDriver, task_id: Mapping[str, Any]) -> None:
        with self._lock:
            record = self._tasks.get(task_id["value"])
        if record is None:
            log.debug("kill of task %s, which is not running here", task_id["value"])
            return
        if self._apply(record, TaskEvent.KILL) is TaskState.KILLING:
            timer = threading.Timer(KILL_GRACE, self._apply, (record, TaskEvent.GRACE_EXPIRED))
            timer.daemon = True
            timer.start()

    def frameworkMessage(self, driver: MesosExecutorDriver, data: bytes) -> None:
        log.debug("ignoring a framework message of %d bytes", len(data))

    def shutdown(self, driver: MesosExecutorDriver) -> None:
        # The driver stops itself once this returns.
        log.info("shutting down")
        self.kill_all(shutdown_wait(driver.environment.shutdown_grace_period))

    def error(self, driver: MesosExecutorDriver, message: str) -> None:
        log.error("executor driver error: %s", message)

    # Task execution.

    def kill_all(self, wait: float) -> None:
        """Kill every task, wait up to `wait` seconds for them to stop, then report them KILLED."""
        with self._lock:
            records = list(self._tasks.values())
        for record in records:
            self._apply(record, TaskEvent.KILL)
        deadline = time.monotonic() + wait
        for record in records:
            record.stopped.wait(max(0.0, deadline - time.monotonic()))
        for record in records:
            self._apply(record, TaskEvent.GRACE_EXPIRED)

    def close(self, wait: float) -> None:
        """After the driver has ended: stop every task still running, then the workers."""
        self._driver = None
        self.kill_all(wait)
        # A worker still in its task would end its program only after this process is gone,
        # and what any program started on its own would outlive us: end them all now.
        left = end_all_programs()
        if left:
            log.error("programs %s outlived SIGKILL", left)
        self._running_reports.close()
        self._pool.close(timeout=0)
        self._http.close()

    def _work(self, record: _Task) -> None:
        if self._apply(record, TaskEvent.START) is not TaskState.STARTED:
            return  # killed while it waited for a worker
        self._running_reports.submit(lambda: self._apply(record, TaskEvent.REPORT))
        # The progress interval runs from the start: time spent queued is not progress.
        record.last_progress = time.monotonic()
        sandbox = self._sandbox
        try:
            outcome = run_task(
                record.data,
                record.cancel,
                lambda fraction: self._progress(record, fraction),
                client=self._http,
                compute=self._compute,
                task_log=TaskLog.for_task(sandbox, record.task_id) if sandbox else None,
            )
        finally:
            record.stopped.set()
        self._apply(record, _EVENT_FOR_OUTCOME[outcome.state], outcome)

    def _apply(
        self, record: _Task, event: TaskEvent, outcome: TaskOutcome | None = None
    ) -> TaskState | None:
        """Move the task on by `event`; send the update the new state calls for.

        Returns the new state, or None when the event does not apply. The per-task lock
        keeps the task's updates in order (RUNNING is sent before any terminal update).
        """
        with record.lock:
            state = transition(record.state, event)
            if state is None:
                return None
            record.state = state
            if state is TaskState.KILLING:
                record.cancel.set()
            if state is TaskState.KILLED and event is TaskEvent.KILL:
                record.stopped.set()
            if state in MESOS_STATE:
                self._report(record, state, outcome)
        if state in TERMINAL:
            with self._lock:
                self._tasks.pop(record.task_id, None)
        return state

    def _report(self, record: _Task, state: TaskState, outcome: TaskOutcome | None) -> None:
        message = None
        data = None
        if state in (TaskState.FAILED, TaskState.LOST) and outcome is not None:
            message = outcome.message
        elif state is TaskState.FINISHED and outcome is not None and outcome.result is not None:
            data = outcome.result.to_bytes()
        elif state is TaskState.KILLED:
            message = "killed"
        self._send(record.task_id, MESOS_STATE[state], message=message, data=data)

    def _send(
        self, task_id: str, state: MesosTaskState, *, message: str | None = None,
        data: bytes | None = None,
    ) -> None:
        driver = self._driver
        if driver is None:
            log.debug("no driver: %s for task %s not sent", state, task_id)
            return
        status: dict[str, Any] = {
            "task_id": {"value": task_id},
            "state": state,
            "source": "SOURCE_EXECUTOR",
        }
        if message is not None:
            status["message"] = message
        if data is not None:
            status["data"] = encode_data(data)
        try:
            driver.sendStatusUpdate(status)
        except Exception as exc:
            log.error("cannot send %s for task %s: %s", state, task_id, exc)

    def _progress(self, record: _Task, fraction: float) -> None:
        driver = self._driver
        if driver is None or record.state not in LIVE or fraction >= 1.0:
            return  # TASK_FINISHED says 1.0 itself
        now = time.monotonic()
        if now - record.last_progress < PROGRESS_INTERVAL or fraction == record.sent_progress:
            return  # short tasks would spend more on reporting progress than on work
        record.last_progress, record.sent_progress = now, fraction
        message = Progress(task_id=record.task_id, progress=fraction)
        try:
            driver.sendFrameworkMessage(message.to_bytes())
        except Exception as exc:
            # Progress is advisory: losing one message must never fail the task.
            log.debug("progress for task %s not sent: %s", record.task_id, exc)
