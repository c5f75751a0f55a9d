"""One femto task from payload to outcome: read inputs, run the operation, deliver the result.

Plain function, no Mesos: the service in `executor/service.py` turns outcomes into status updates.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import numpy as np
from pydantic import ValidationError

from femto.executor.httpio import Api, Cancelled, Unreachable, new_client
from femto.executor.inputs import read_left_tail, read_partition
from femto.executor.operations import find_operation
from femto.executor.outputs import put_output
from femto.executor.programs import TaskPrograms
from femto.executor.tasklog import TaskLog
from femto.jobs.operations import Context
from femto.jobs.plain import json_safe
from femto.jobs.wire import (
    OutputMeta,
    PayloadError,
    TaskPayload,
    TaskResult,
    describe_validation_error,
    parse_payload,
)
from mesosapi.taskstates import TaskState as MesosTaskState

log = logging.getLogger(__name__)

# Progress reported at the two milestones every task has (inputs read, computation done).
INPUTS_READ = 0.3
COMPUTED = 0.9
SLOT_POLL = 0.1  # seconds between looks at the cancel flag while waiting for a compute slot


class Outcome(StrEnum):
    """How a task ended; the values are the Mesos TaskState names sent to the scheduler."""

    FINISHED = MesosTaskState.FINISHED.value
    FAILED = MesosTaskState.FAILED.value
    KILLED = MesosTaskState.KILLED.value
    # Femto's API could not be reached to read inputs or deliver the output: not
    # the work's fault, and the task can run again (what TASK_LOST means to Mesos).
    LOST = MesosTaskState.LOST.value


@dataclass(frozen=True)
class TaskOutcome:
    state: Outcome
    result: TaskResult | None = None  # with FINISHED
    message: str | None = None


class TaskError(Exception):
    """The task cannot run as asked (bad params, wrong number of inputs, no output url)."""


def run_task(
    payload: bytes | str | Mapping[str, Any] | TaskPayload,
    cancel: threading.Event,
    progress: Callable[[float], None],
    *,
    client: httpx.Client | None = None,
    compute: threading.Semaphore | None = None,
    task_log: TaskLog | None = None,
) -> TaskOutcome:
    """Run one task. Never raises: every failure becomes a FAILED outcome naming its cause.

    `cancel` set (by a KILL) makes the task stop at its next step and end KILLED; whatever it
    computed is dropped. `client` is reused for HTTP transfers when given. `compute`, when
    given, is held while an in-process operation computes. `task_log`, when given, gets the
    task's milestones, its program's stderr and its failure (see `executor/tasklog.py`).
    """
    outcome = _run(payload, cancel, progress, client, compute, task_log)
    if task_log is not None:
        ended = outcome.state.value + (f": {outcome.message}" if outcome.message else "")
        if outcome.state in (Outcome.FAILED, Outcome.LOST):
            task_log.error(ended)
        task_log.ended(ended)
    return outcome


def _run(
    payload: bytes | str | Mapping[str, Any] | TaskPayload,
    cancel: threading.Event,
    progress: Callable[[float], None],
    client: httpx.Client | None,
    compute: threading.Semaphore | None,
    task_log: TaskLog | None,
) -> TaskOutcome:
    try:
        task = payload if isinstance(payload, TaskPayload) else parse_payload(payload)
    except PayloadError as exc:
        return TaskOutcome(Outcome.FAILED, message=str(exc))
    if task_log is not None:
        task_log.started(f"{task.operation} of job {task.job_id}, partition {task.partition}, "
                         f"attempt {task.attempt}")
    own_client = client is None
    http = new_client() if client is None else client
    try:
        return _execute(task, cancel, progress, http, compute, task_log)
    except Cancelled:
        return TaskOutcome(Outcome.KILLED)
    except Unreachable as exc:
        return TaskOutcome(Outcome.LOST, message=str(exc))
    except Exception as exc:
        if cancel.is_set():
            return TaskOutcome(Outcome.KILLED)
        log.debug("task %s.%s.%s failed", task.job_id, task.partition, task.attempt, exc_info=True)
        if task_log is not None:
            task_log.error(traceback.format_exc())
        return TaskOutcome(Outcome.FAILED, message=f"{type(exc).__name__}: {exc}")
    finally:
        if own_client:
            http.close()


@contextmanager
def _slot(compute: threading.Semaphore | None, cancel: threading.Event) -> Iterator[None]:
    """Hold a compute slot, waiting for one; a KILL while waiting ends the task."""
    if compute is None:
        yield
        return
    while not compute.acquire(timeout=SLOT_POLL):
        if cancel.is_set():
            raise Cancelled("killed while waiting to compute")
    try:
        yield
    finally:
        compute.release()


def _execute(
    task: TaskPayload,
    cancel: threading.Event,
    progress: Callable[[float], None],
    client: httpx.Client,
    compute: threading.Semaphore | None,
    task_log: TaskLog | None,
) -> TaskOutcome:
    operation = find_operation(task)
    try:
        params = operation.parse_params(task.params)
    except ValidationError as exc:
        raise TaskError(
            f"bad params for {task.operation}: {describe_validation_error(exc)}"
        ) from exc
    if len(task.inputs) != operation.arity:
        raise TaskError(
            f"{task.operation} takes {operation.arity} input(s), the task has {len(task.inputs)}"
        )
    output_url = ""
    if operation.kind == "transform":
        if task.output is None:
            raise TaskError(f"{task.operation} is a transform and the task has no output url")
        output_url = task.output.url

    api = Api(client, task.credential, cancel, task.api_mirrors)
    inputs: list[np.ndarray] = []
    for ref in task.inputs:  # a big input takes a while: each one read is progress
        if inputs:
            progress(INPUTS_READ * len(inputs) / len(task.inputs))
        inputs.append(read_partition(ref, api))
    left = read_left_tail(task.left, operation.left_context(params), api)
    if cancel.is_set():
        return TaskOutcome(Outcome.KILLED)
    progress(INPUTS_READ)

    # The computation's own progress (0..1, from the operation or its program) is its
    # share between the milestones.
    def computing(fraction: float) -> None:
        progress(INPUTS_READ + min(max(fraction, 0.0), 1.0) * (COMPUTED - INPUTS_READ))

    context = Context(left=left, programs=TaskPrograms(cancel, task_log, progress=computing),
                      progress=computing)
    with _slot(compute if operation.computes_in_process else None, cancel):
        result = operation.map(inputs, params, context)
    if cancel.is_set():
        return TaskOutcome(Outcome.KILLED)

    if operation.kind == "query":
        progress(1.0)
        return TaskOutcome(Outcome.FINISHED, result=TaskResult(result=json_safe(result)))

    array = np.asarray(result)
    if array.ndim == 0:
        raise TaskError(f"{task.operation} returned a scalar, not an output partition")
    progress(COMPUTED)
    put_output(output_url, array, api)
    if cancel.is_set():
        return TaskOutcome(Outcome.KILLED)
    progress(1.0)
    output = OutputMeta(length=array.shape[0], dtype=array.dtype.str, shape=list(array.shape))
    return TaskOutcome(Outcome.FINISHED, result=TaskResult(output=output))
