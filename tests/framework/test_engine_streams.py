"""The core's rules for standing jobs, pure: appends come in as events, and the exact
instructions going out say which tasks exist, which outputs are published (in input
order) and when the job completes. No store, driver or socket."""

from __future__ import annotations

from femto.engine.config import InputPartition
from femto.engine.core import Core
from femto.engine.instructions import (
    CloseOutput,
    Complete,
    DeleteOutputs,
    Launch,
    PublishOutputs,
    Revive,
)
from femto.lifecycle import JobState, TaskState
from tests.framework.test_engine_core import (
    finished,
    job_of,
    launch,
    only,
    subscribed_core,
    task,
)


def part(i: int, length: int = 2) -> InputPartition:
    return InputPartition(f"file:///d/{i}.npy", None, length, "<f8", None)


def standing(core: Core, partitions: int = 1, window: int = 3) -> None:
    job, tasks, admitted, inputs = job_of(
        "sliding_mean", partitions=partitions, output="out", params={"window": window})
    admitted = type(admitted)(admitted.spec.model_copy(update={"standing": True}),
                              admitted.document, admitted.fingerprint)
    core.admit(job, tasks, admitted, inputs, 0.0)


def test_each_appended_partition_becomes_one_task_however_often_announced() -> None:
    core = subscribed_core()
    standing(core)
    out = core.on_appended("d", 1, [part(1), part(2)], False, 1.0)
    assert [t.partition for t in core.active["j"].tasks] == [0, 1, 2]
    assert core.active["j"].job.n_tasks == 3
    assert all(t.state is TaskState.PENDING for t in core.active["j"].tasks)
    assert Revive() in out or core.revive_at is not None
    # Announced again (a retried call, a reconcile after a load): nothing new.
    assert core.on_appended("d", 1, [part(1)], False, 2.0) == []
    assert core.on_appended("d", 3, [], False, 2.0) == []
    # Another dataset's appends are not this job's.
    assert core.on_appended("other", 1, [part(9)], False, 2.0) == []
    assert len(core.active["j"].tasks) == 3


def test_partitions_known_but_lacking_a_task_get_one_on_reconcile() -> None:
    """A load gives the core the input as stored, with partitions appended while no
    leader ran; the reconcile (no new partitions) makes their tasks."""
    core = subscribed_core()
    standing(core)
    core.active["j"].inputs[0].extend([part(1), part(2)])
    core.on_appended("d", 3, [], False, 1.0)
    assert [t.partition for t in core.active["j"].tasks] == [0, 1, 2]


def test_an_appended_partitions_task_reads_the_tail_before_it() -> None:
    core = subscribed_core()
    standing(core, window=4)  # 3 rows of left context: two 2-row partitions before it
    core.on_appended("d", 1, [part(1), part(2)], False, 1.0)
    out = core.on_offers([{"id": {"value": "o"}, "agent_id": {"value": "agent-1"},
                           "hostname": "agent-1", "resources": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 4.0}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 4096.0}}]}], 2.0)
    [launched] = only(out, Launch)
    payloads = {t.payload.partition: t.payload for t in launched.tasks}
    assert [r.uri for r in payloads[2].left] == ["file:///d/0.npy", "file:///d/1.npy"]
    assert [r.uri for r in payloads[1].left] == ["file:///d/0.npy"]
    assert payloads[0].left == []


def test_outputs_are_published_in_input_order() -> None:
    core = subscribed_core()
    standing(core)
    core.on_appended("d", 1, [part(1), part(2)], False, 1.0)
    ids = launch(core, 2.0)
    by_partition = {int(i.split(".")[1]): i for i in ids}
    # Partition 1 finishes first: nothing is published, partition 0 is not done.
    out = core.on_status(finished(by_partition[1], output=True), 3.0)
    assert only(out, PublishOutputs) == []
    out = core.on_status(finished(by_partition[0], output=True), 4.0)
    assert only(out, PublishOutputs) == [PublishOutputs("j", (0, 1))]
    out = core.on_status(finished(by_partition[2], output=True), 5.0)
    assert only(out, PublishOutputs) == [PublishOutputs("j", (2,))]
    assert only(out, Complete) == []  # the input is open: more may come


def test_closed_and_drained_completes_once() -> None:
    core = subscribed_core()
    standing(core)
    [tid] = launch(core, 1.0)
    core.on_status(finished(tid, output=True), 2.0)
    assert only(core.on_appended("d", 1, [], True, 3.0), Complete) == [Complete("j")]


def test_closed_before_drained_completes_with_the_last_task() -> None:
    core = subscribed_core()
    standing(core)
    out = core.on_appended("d", 1, [part(1)], True, 1.0)
    assert only(out, Complete) == [] and core.active["j"].input_closed
    ids = sorted(launch(core, 2.0))
    core.on_status(finished(ids[0], output=True), 3.0)
    out = core.on_status(finished(ids[1], output=True), 4.0)
    assert only(out, PublishOutputs) == [PublishOutputs("j", (1,))]
    assert out.index(PublishOutputs("j", (1,))) < out.index(Complete("j"))
    assert core.completed("j", {"dataset": "out"}, 5.0)[0] == CloseOutput("j")
    assert core.active["j"].job.state is JobState.FINISHED


def test_a_cancelled_standing_job_keeps_its_published_outputs_and_closes_them() -> None:
    core = subscribed_core()
    standing(core)
    core.on_appended("d", 1, [part(1), part(2)], False, 1.0)
    ids = {int(i.split(".")[1]): i for i in launch(core, 2.0)}
    core.on_status(finished(ids[0], output=True), 3.0)  # published
    core.on_status(finished(ids[2], output=True), 3.0)  # waits for 1: not published
    out = core.cancel("j", 4.0)
    # Partition 0's blob is in the output; 2's never got there, and 1's attempt is killed.
    assert DeleteOutputs("j", ((1, 1), (2, 1))) in out
    assert CloseOutput("j") in out
    assert core.active["j"].job.state is JobState.CANCELLED
    # An append after the end is no news to it.
    assert core.on_appended("d", 3, [part(3)], False, 5.0) == []
    assert task(core, 1).state is TaskState.KILLED


def test_a_loaded_standing_job_publishes_what_finished_before_the_stop() -> None:
    """The old leader recorded partials 0 and 1 but published only 0."""
    core = subscribed_core()
    job, tasks, admitted, inputs = job_of(
        "sliding_mean", partitions=2, output="out", params={"window": 3})
    admitted = type(admitted)(admitted.spec.model_copy(update={"standing": True}),
                              admitted.document, admitted.fingerprint)
    for t in tasks:
        t.state = TaskState.FINISHED
    core.load(job, tasks, admitted, inputs, {0: 1, 1: 1}, 0.0, published=1)
    out = core.on_appended("d", 2, [], False, 1.0)
    assert only(out, PublishOutputs) == [PublishOutputs("j", (1,))]
