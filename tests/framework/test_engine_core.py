"""The engine's rules, one by one: the pure core fed events, asserting on the exact
instructions it returns. No store, driver, socket, thread or clock: the time is an argument.

Mesos sources of the rules: docs/scheduler-http-api.md (ACKNOWLEDGE, KILL, RECONCILE,
REVIVE, SUPPRESS), docs/reconciliation.md (explicit then implicit, with backoff),
docs/high-availability-framework-guide.md (partitioned agents, TASK_UNREACHABLE)."""

from __future__ import annotations

from typing import Any

import pytest

from femto.engine.admission import admit
from femto.engine.config import EngineConfig, InputPartition
from femto.engine.core import Core, Halted
from femto.engine.instructions import (
    Complete,
    Decline,
    DeleteOutputs,
    ForgetPartials,
    Instruction,
    Kill,
    Launch,
    Persist,
    Progressed,
    Reconcile,
    RecordPartial,
    RememberFramework,
    Revive,
    Suppress,
)
from femto.jobs.limits import Limits
from femto.jobs.wire import OutputMeta, Progress, TaskResult
from femto.launch import ExecutorSpec
from femto.lifecycle import JobState, TaskState
from femto.model import Attempt, Job, Task
from femto.retries import RetryPolicy
from mesosapi.encoding import encode_data

CONFIG = EngineConfig(
    executor=ExecutorSpec(command="true"), api_url="http://femto", launch_timeout=60.0,
    kill_interval=5.0, decline_seconds=5.0, idle_decline_seconds=60.0,
    retry=RetryPolicy(backoff_base=1.0, backoff_max=4.0, infra_cap=2),
    reconcile_backoff_max=4.0, implicit_reconcile_interval=600.0,
)
AGENT = "agent-1"


def offer(offer_id: str, agent: str = AGENT) -> dict[str, Any]:
    return {"id": {"value": offer_id}, "agent_id": {"value": agent}, "hostname": agent,
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 4.0}},
                          {"name": "mem", "type": "SCALAR", "scalar": {"value": 4096.0}}]}


def status(task_id: str, state: str, agent: str = AGENT, **extra: Any) -> dict[str, Any]:
    return {"task_id": {"value": task_id}, "state": state, "agent_id": {"value": agent},
            **extra}


def finished(task_id: str, value: int | None = None, *, output: bool = False,
             agent: str = AGENT) -> dict[str, Any]:
    result = (TaskResult(output=OutputMeta(length=2, dtype="<f8", shape=[2])) if output
              else TaskResult(result={"value": value}))
    return status(task_id, "TASK_FINISHED", agent, source="SOURCE_EXECUTOR",
                  data=encode_data(result.to_bytes()))


def failed(task_id: str, agent: str = AGENT) -> dict[str, Any]:
    """The work failed: the operation raised (charged to max_retries)."""
    return status(task_id, "TASK_FAILED", agent, source="SOURCE_EXECUTOR", message="boom")


def lost(task_id: str, agent: str = AGENT) -> dict[str, Any]:
    """The infrastructure failed: not charged, under its own cap."""
    return status(task_id, "TASK_LOST", agent, source="SOURCE_MASTER",
                  reason="REASON_AGENT_REMOVED")


def job_of(operation: str = "count", *, max_retries: int = 3, partitions: int = 1,
           output: str | None = None, params: dict[str, Any] | None = None,
           ) -> tuple[Job, list[Task], Any, list[list[InputPartition]]]:
    admitted = admit({"name": "j", "operation": operation, "inputs": ["d"],
                      "max_retries": max_retries, "output": output, "params": params or {}},
                     Limits())
    job = Job(id="j", name="j", operation=operation, spec=admitted.document,
              fingerprint=admitted.fingerprint, created=0.0, n_tasks=partitions, output=output)
    tasks = [Task(job_id="j", partition=i, waiting_since=0.0) for i in range(partitions)]
    inputs = [[InputPartition(f"file:///d/{i}.npy", None, 2, "<f8", None)
               for i in range(partitions)]]
    return job, tasks, admitted, inputs


def subscribed_core() -> Core:
    core = Core(CONFIG)
    assert core.on_subscribed("fw", 0.0) == [RememberFramework("fw"), Reconcile(())]
    return core


def submitted(core: Core, now: float = 0.0, **kwargs: Any) -> Job:
    job, tasks, admitted, inputs = job_of(**kwargs)
    assert core.admit(job, tasks, admitted, inputs, now) == [Revive()]
    return job


def launch(core: Core, now: float, offer_id: str = "o1", agent: str = AGENT) -> list[str]:
    """Offer one agent; the task ids it launched."""
    out = core.on_offers([offer(offer_id, agent)], now)
    launches = [i for i in out if isinstance(i, Launch)]
    assert len(launches) == 1, out
    return [t.task_id for t in launches[0].tasks]


def task(core: Core, partition: int = 0) -> Task:
    return core.active["j"].tasks[partition]


def only(out: list[Instruction], kind: type) -> list[Instruction]:
    return [i for i in out if isinstance(i, kind)]


# ----- status updates ------------------------------------------------------


def test_progress_is_told_for_the_live_attempt_only() -> None:
    core = subscribed_core()
    submitted(core)
    [tid] = launch(core, 1.0)
    core.on_status(status(tid, "TASK_RUNNING"), 2.0)

    def report(task_id: str, progress: float) -> list[Instruction]:
        return core.on_message(Progress(task_id=task_id, progress=progress)
                               .model_dump_json().encode())

    assert report(tid, 0.25) == [Progressed("j", 0, 1, 0.25)]
    assert task(core).progress == 0.25
    assert report("j.0.7", 0.9) == []  # not an attempt that is live
    assert core.on_message(b"not progress") == []
    assert task(core).progress == 0.25


def test_a_duplicate_running_update_changes_nothing() -> None:
    core = subscribed_core()
    submitted(core)
    [tid] = launch(core, 1.0)
    assert core.on_status(status(tid, "TASK_RUNNING"), 2.0) == [Persist((task(core),), ())]
    assert task(core).state is TaskState.RUNNING and task(core).attempts[0].running == 2.0
    assert core.on_status(status(tid, "TASK_RUNNING"), 3.0) == []
    assert task(core).attempts[0].running == 2.0


def test_finished_before_running_completes_and_a_late_running_counts_nothing() -> None:
    core = subscribed_core()
    job = submitted(core)
    [tid] = launch(core, 1.0)
    out = core.on_status(finished(tid, 4), 2.0)
    assert out == [RecordPartial("j", 0, 1, {"value": 4}), Complete("j"),
                   Persist((task(core),), ())]
    assert task(core).state is TaskState.FINISHED
    assert core.completed("j", {"value": 4}, 2.0) == [Persist((), (job,))]
    # The RUNNING the agent sent first arrives last: the task stays finished, nothing is
    # recorded again; the attempt, no longer live, is told to stop (harmless if it did).
    out = core.on_status(status(tid, "TASK_RUNNING"), 3.0)
    assert out == [Persist((task(core),), ()), Kill(tid, AGENT)]
    assert task(core).state is TaskState.FINISHED and job.state is JobState.FINISHED


def test_an_update_for_a_task_femto_does_not_run_kills_it_if_live() -> None:
    core = subscribed_core()
    assert core.on_status(status("other.0.1", "TASK_RUNNING"), 1.0) == [
        Kill("other.0.1", AGENT)]
    assert core.on_status(status("other.0.2", "TASK_FAILED"), 1.0) == []
    assert core.on_status(status("not-femto", "TASK_STAGING", "a2"), 1.0) == [
        Kill("not-femto", "a2")]


def test_a_superseded_attempts_late_finish_counts_once_and_stops_the_retry() -> None:
    core = subscribed_core()
    submitted(core, max_retries=0)
    [old] = launch(core, 1.0)
    core.on_status(status(old, "TASK_UNREACHABLE", source="SOURCE_MASTER",
                          reason="REASON_AGENT_REMOVED"), 2.0)
    assert task(core).state is TaskState.PENDING and task(core).infra == 1
    [new] = launch(core, 10.0, "o2", "agent-2")
    core.on_status(status(new, "TASK_RUNNING", "agent-2"), 11.0)
    # The master's word on re-registration carries no result: the retry goes on.
    word = status(old, "TASK_FINISHED", source="SOURCE_MASTER",
                  reason="REASON_AGENT_REREGISTERED")
    assert core.on_status(word, 12.0) == [Persist((task(core),), ())]
    assert task(core).state is TaskState.RUNNING
    # Then the old attempt's own update, with its result: the first result wins.
    out = core.on_status(finished(old, 4), 13.0)
    assert out == [RecordPartial("j", 0, 1, {"value": 4}), Complete("j"),
                   Persist((task(core),), ()), Kill(new, "agent-2")]
    assert task(core).attempts[1].message == "superseded by an earlier attempt"
    # The retry finishing too adds nothing.
    assert core.on_status(finished(new, 4, agent="agent-2"), 14.0) == [
        Persist((task(core),), ())]


def test_a_partial_is_recorded_exactly_once() -> None:
    core = subscribed_core()
    submitted(core)
    [tid] = launch(core, 1.0)
    assert only(core.on_status(finished(tid, 4), 2.0), RecordPartial) == [
        RecordPartial("j", 0, 1, {"value": 4})]
    again = core.on_status(finished(tid, 4), 3.0)  # redelivered: not acknowledged in time
    assert again == [Persist((task(core),), ())]


def test_a_partial_recorded_before_a_restart_is_not_recorded_again() -> None:
    job, tasks, admitted, inputs = job_of()
    tasks[0].state = TaskState.RUNNING
    tasks[0].attempts = (Attempt(n=1, agent_id=AGENT, host=AGENT, launched=0.0),)
    core = Core(CONFIG)
    core.load(job, tasks, admitted, inputs, {0: 1}, 0.0)
    # A reconciliation answer (no data) for an attempt whose partial the store holds.
    out = core.on_status(status("j.0.1", "TASK_FINISHED", source="SOURCE_MASTER"), 1.0)
    assert out == [Complete("j"), Persist((tasks[0],), ())]


def test_finished_without_a_result_is_run_again_uncharged() -> None:
    core = subscribed_core()
    submitted(core, max_retries=0)
    [tid] = launch(core, 1.0)
    out = core.on_status(status(tid, "TASK_FINISHED", source="SOURCE_MASTER"), 2.0)
    assert out == [Persist((task(core),), ())]
    assert task(core).state is TaskState.PENDING
    assert (task(core).charged, task(core).infra) == (0, 1)
    assert task(core).attempts[0].message == "finished without a result"


# ----- whose fault, caps and backoff -----------------------------------------


def test_a_failure_of_the_work_is_charged_up_to_max_retries() -> None:
    core = subscribed_core()
    job = submitted(core, max_retries=1)
    [first] = launch(core, 1.0)
    core.on_status(failed(first), 2.0)
    assert (task(core).charged, task(core).infra) == (1, 0)
    assert task(core).attempts[0].fault == "work"
    [second] = launch(core, 10.0)
    out = core.on_status(failed(second), 11.0)
    assert out == [Persist((task(core),), (job,))]
    assert job.state is JobState.FAILED and task(core).state is TaskState.FAILED
    assert job.error == "partition 0 failed 2 times (max_retries=1); last error: boom"
    # Each attempt is kept, in order, with its end (GET /v1/jobs/{id}/tasks shows them).
    assert [(a.n, a.state, a.fault, a.message) for a in task(core).attempts] == [
        (1, "TASK_FAILED", "work", "boom"), (2, "TASK_FAILED", "work", "boom")]


def test_a_failure_of_the_infrastructure_is_not_charged_but_capped() -> None:
    core = subscribed_core()
    job = submitted(core, max_retries=0)
    now = 1.0
    for n in (1, 2):  # infra_cap=2: two losses are retried although max_retries=0
        [tid] = launch(core, now)
        core.on_status(lost(tid), now + 1)
        assert task(core).state is TaskState.PENDING
        assert (task(core).charged, task(core).infra) == (0, n)
        now += 10
    [tid] = launch(core, now)
    core.on_status(lost(tid), now + 1)
    assert job.state is JobState.FAILED
    assert job.error == ("partition 0 lost 3 times to infrastructure failures (cap 2); "
                         "last error: REASON_AGENT_REMOVED")


def test_a_retry_waits_out_its_backoff_then_revives_offers() -> None:
    core = subscribed_core()
    submitted(core)
    [tid] = launch(core, 1.0)
    core.on_status(failed(tid), 2.0)
    assert task(core).not_before == 3.0  # backoff_base 1s after the first failure
    # An offer inside the backoff is declined (the task is not idle: a short filter).
    assert core.on_offers([offer("o2")], 2.5) == [Decline(({"value": "o2"},), 5.0)]
    assert core.tick(2.9) == []
    assert core.tick(3.0) == [Revive()]
    [again] = launch(core, 3.1, "o3")
    core.on_status(failed(again), 4.0)
    assert task(core).not_before == 6.0  # doubled: 2s after the second
    core.on_status(failed(launch(core, 6.0, "o4")[0]), 7.0)
    [fourth] = launch(core, 11.0, "o5")
    assert fourth == "j.0.4"
    core.on_status(lost(fourth), 12.0)
    assert task(core).not_before == 16.0  # capped at backoff_max=4s


# ----- timeouts and kills -----------------------------------------------------


def test_a_launch_not_running_within_the_timeout_is_killed_and_retried() -> None:
    core = subscribed_core()
    submitted(core, max_retries=0)
    [tid] = launch(core, 1.0)
    assert core.tick(61.0) == []  # exactly the timeout: not yet
    assert core.tick(61.5) == [Persist((task(core),), ()), Kill(tid, AGENT)]
    attempt = task(core).attempts[0]
    assert (attempt.state, attempt.fault) == ("TIMED_OUT", "infra")
    assert attempt.message == "not running after 60.0s"
    assert task(core).state is TaskState.PENDING


def test_a_running_task_is_not_timed_out() -> None:
    core = subscribed_core()
    submitted(core)
    [tid] = launch(core, 1.0)
    core.on_status(status(tid, "TASK_RUNNING"), 2.0)
    assert core.tick(100.0) == []


def test_a_kill_is_repeated_until_a_terminal_update_confirms_it() -> None:
    core = subscribed_core()
    job = submitted(core)
    [tid] = launch(core, 1.0)
    core.on_status(status(tid, "TASK_RUNNING"), 2.0)
    assert core.cancel("j", 10.0) == [Persist((task(core),), (job,)), Kill(tid, AGENT)]
    assert core.tick(11.0) == [ForgetPartials("j")]  # the ended job leaves memory
    assert core.tick(14.9) == []
    assert core.tick(15.0) == [Kill(tid, AGENT)]
    assert core.tick(16.0) == []
    assert core.tick(20.0) == [Kill(tid, AGENT)]
    assert core.on_status(status(tid, "TASK_KILLING"), 21.0) == []  # not terminal
    assert core.tick(25.0) == [Kill(tid, AGENT)]
    assert core.on_status(status(tid, "TASK_KILLED"), 26.0) == []
    assert core.tick(40.0) == []


# ----- reconciliation ---------------------------------------------------------


def test_reconciliation_is_explicit_with_backoff_then_implicit() -> None:
    job, tasks, admitted, inputs = job_of()
    tasks[0].state = TaskState.RUNNING
    tasks[0].attempts = (Attempt(n=1, agent_id=AGENT, host=AGENT, launched=0.0),)
    core = Core(CONFIG)
    core.load(job, tasks, admitted, inputs, {}, 0.0)
    explicit = Reconcile((("j.0.1", AGENT),))
    assert core.on_subscribed("fw", 0.0) == [RememberFramework("fw"), explicit]
    assert core.tick(0.9) == []  # one round in flight: the next after 1s ...
    assert core.tick(1.0) == [explicit]
    assert core.tick(2.9) == []  # ... then 2s ...
    assert core.tick(3.0) == [explicit]
    assert core.tick(6.9) == []  # ... then 4s (reconcile_backoff_max) ...
    assert core.tick(7.0) == [explicit]
    assert core.tick(10.9) == []
    assert core.tick(11.0) == [explicit]  # ... and no more than that
    assert core.on_status(status("j.0.1", "TASK_RUNNING", source="SOURCE_MASTER",
                                 reason="REASON_RECONCILIATION"), 12.0) == []
    assert core.tick(12.5) == [Reconcile(())]  # all answered: implicit
    assert core.tick(100.0) == []
    assert core.tick(612.5) == [Reconcile(())]


def test_a_resubscription_asks_again_about_live_attempts_and_unconfirmed_kills() -> None:
    core = subscribed_core()
    submitted(core, partitions=2)
    first, second = launch(core, 1.0)
    core.on_status(status(first, "TASK_RUNNING"), 2.0)
    core.cancel("j", 3.0)
    out = core.on_subscribed("fw", 4.0)
    assert out == [RememberFramework("fw"), Reconcile(((first, AGENT), (second, AGENT)))]


# ----- cancellation, completion, offers -----------------------------------------


def test_cancelling_a_pending_job_kills_nothing() -> None:
    core = subscribed_core()
    job = submitted(core)
    assert core.cancel("j", 1.0) == [Persist((task(core),), (job,))]
    assert job.state is JobState.CANCELLED and job.error == "cancelled by user"
    assert task(core).state is TaskState.KILLED and not core.pending
    # With its job gone, an offer is declined for long and offers are suppressed.
    assert core.tick(2.0) == [ForgetPartials("j")]
    assert core.on_offers([offer("o1")], 3.0) == [Decline(({"value": "o1"},), 60.0),
                                                  Suppress()]


def test_a_finished_transform_keeps_the_blob_of_the_attempt_that_counts() -> None:
    core = subscribed_core()
    job = submitted(core, operation="real2bin", output="out", max_retries=1)
    [first] = launch(core, 1.0)
    core.on_status(lost(first), 2.0)
    [second] = launch(core, 10.0)
    out = core.on_status(finished(second, output=True), 11.0)
    assert only(out, RecordPartial) == [
        RecordPartial("j", 0, 2, {"length": 2, "dtype": "<f8", "shape": [2]})]
    assert core.completed("j", {"dataset": "out"}, 12.0) == [
        DeleteOutputs("j", ((0, 1),)), Persist((), (job,))]


def test_a_failed_transform_drops_every_output_blob() -> None:
    core = subscribed_core()
    job = submitted(core, operation="real2bin", output="out")
    [tid] = launch(core, 1.0)
    core.on_status(finished(tid, output=True), 2.0)
    assert core.incomplete("j", "no blob", 3.0) == [
        DeleteOutputs("j", ((0, 1),)), Persist((), (job,))]
    assert job.state is JobState.FAILED and job.error == "no blob"


def test_a_launch_payload_names_inputs_output_and_left_context() -> None:
    core = subscribed_core()
    job, tasks, admitted, inputs = job_of("sliding_mean", partitions=2, output="out",
                                          params={"window": 3})
    core.admit(job, tasks, admitted, inputs, 0.0)
    [launched] = only(core.on_offers([offer("o1")], 1.0), Launch)
    assert isinstance(launched, Launch)
    payloads = [t.payload for t in launched.tasks]
    assert [p.partition for p in payloads] == [0, 1]
    assert payloads[1].inputs == [inputs[0][1].ref] and payloads[1].left == [inputs[0][0].ref]
    assert payloads[0].left == []
    assert payloads[1].output is not None
    assert payloads[1].output.url == "http://femto/executor/jobs/j/outputs/1"
    assert payloads[0].credential is None  # the shell signs it


def test_a_launch_the_master_never_took_goes_back_to_pending_uncharged() -> None:
    core = subscribed_core()
    job = submitted(core)
    [tid] = launch(core, 1.0)
    out = core.unlaunch([tid], 1.2)
    assert out == [Persist((task(core),), ()), Revive()]
    assert task(core).state is TaskState.PENDING and task(core).attempts == ()
    assert job.attempts == 0 and core.counters["tasks_launched"] == 0
    # Another within the revive interval: the revive waits for its end.
    [again] = launch(core, 1.3, "o2")
    assert core.unlaunch([again], 1.4) == [Persist((task(core),), ())]
    assert core.tick(1.6) == []
    assert core.tick(1.7) == [Revive()]


# ----- deposition ---------------------------------------------------------------


def test_a_deposed_core_writes_and_sends_nothing() -> None:
    core = subscribed_core()
    submitted(core)
    [tid] = launch(core, 1.0)
    core.depose()
    assert core.on_offers([offer("o2")], 2.0) == []
    assert core.tick(100.0) == []  # not even the launch timeout's kill
    assert core.on_subscribed("fw", 101.0) == []
    with pytest.raises(Halted):  # not acknowledged: the next leader receives it
        core.on_status(finished(tid, 4), 102.0)
    with pytest.raises(Halted):
        core.cancel("j", 103.0)
    job, tasks, admitted, inputs = job_of()
    with pytest.raises(Halted):
        core.admit(job, tasks, admitted, inputs, 104.0)
    assert task(core).state is TaskState.LAUNCHING
