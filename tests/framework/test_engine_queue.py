"""Why a task waits (GET /v1/queue), the backoff reset, and what the job and task views
say of killed and running tasks: the pure core, the time an argument, no sockets."""

from __future__ import annotations

import dataclasses
from typing import Any

from femto.engine import waiting
from femto.engine.config import InputPartition
from femto.engine.core import Core
from femto.engine.instructions import Persist, Revive
from femto.engine.views import job_view, task_view
from femto.engine.waiting import Reason
from femto.jobs.wire import Progress
from tests.framework.test_engine_core import (
    CONFIG,
    failed,
    job_of,
    launch,
    offer,
    status,
    submitted,
    subscribed_core,
    task,
)


def reasons(core: Core, now: float) -> list[tuple[int, Reason, float | None, float | None]]:
    return [(w.partition, w.reason, w.until, w.delay) for w in waiting.waits(core, now)]


def test_a_task_no_offer_has_reached_waits_for_an_offer_of_its_size() -> None:
    core = subscribed_core()
    submitted(core)
    [wait] = waiting.waits(core, 6.0)
    assert (wait.job, wait.partition, wait.reason, wait.until) == ("j", 0, Reason.OFFER, None)
    assert "0.25 cpus and 64 MB" in wait.message
    assert wait.view()["waiting_since"] == "1970-01-01T00:00:00.000Z"


def test_a_task_whose_data_lies_on_a_host_waits_for_it_until_the_locality_wait_ends() -> None:
    core = subscribed_core()
    job, tasks, admitted, _ = job_of()
    local = [[InputPartition("file:///d/0.npy", None, 2, "<f8", "data-host")]]
    core.admit(job, tasks, admitted, local, 0.0)
    until = CONFIG.locality_wait
    assert reasons(core, 1.0) == [(0, Reason.LOCALITY, until, None)]
    assert "data-host" in waiting.waits(core, 1.0)[0].message
    assert reasons(core, until) == [(0, Reason.OFFER, None, None)]


def test_a_failed_task_waits_out_its_backoff_with_its_delay_then_an_offer() -> None:
    core = subscribed_core()
    submitted(core)
    [tid] = launch(core, 1.0)
    core.on_status(failed(tid), 2.0)
    assert reasons(core, 2.5) == [(0, Reason.BACKOFF, 3.0, 1.0)]
    [wait] = waiting.waits(core, 2.5)
    assert wait.waiting_since == 2.0  # since the failure, not since the backoff's end
    assert "backoff of 1s" in wait.message
    assert reasons(core, 3.0) == [(0, Reason.OFFER, None, None)]


def test_a_task_bigger_than_every_agent_says_it_fits_no_agent() -> None:
    core = subscribed_core()
    job, tasks, admitted, inputs = job_of()
    big = dataclasses.replace(admitted, spec=admitted.spec.model_copy(update={
        "resources": admitted.spec.resources.model_copy(update={"cpus": 64.0})}))
    core.admit(job, tasks, big, inputs, 0.0)
    core.on_offers([offer("o1")], 0.5)
    core.tick(CONFIG.locality_wait + 1)
    [wait] = waiting.waits(core, CONFIG.locality_wait + 1)
    assert wait.reason is Reason.FITS_NO_AGENT
    assert wait.message.startswith("no agent offers enough")


def test_the_queue_lists_only_waiting_tasks_longest_waiting_first_and_by_job() -> None:
    core = subscribed_core()
    submitted(core, 0.0, partitions=3)
    launch(core, 1.0)  # all three launch into the one offer
    [first, second, third] = [t.mesos_id(t.attempts[0]) for t in core.active["j"].tasks]
    assert waiting.waits(core, 1.5) == []  # launching is not waiting
    core.on_status(failed(second), 2.0)
    core.on_status(status(first, "TASK_RUNNING"), 2.0)
    core.on_status(failed(third), 2.5)
    assert [w.partition for w in waiting.waits(core, 2.6)] == [1, 2]
    assert [w.partition for w in waiting.waits(core, 2.6, "j")] == [1, 2]
    assert waiting.waits(core, 2.6, "another") == []


def test_resetting_the_delay_persists_the_task_and_revives_offers() -> None:
    core = subscribed_core()
    submitted(core)
    [tid] = launch(core, 1.0)
    core.on_status(failed(tid), 2.0)
    reset, out = core.reset_delay("j", 2.5)
    assert reset == 1
    assert out == [Persist((task(core),), ()), Revive()]
    assert task(core).not_before == 2.5
    assert reasons(core, 2.5) == [(0, Reason.OFFER, None, None)]
    assert core.reset_delay("j", 2.6) == (0, [])  # nothing in backoff: nothing to do


def test_a_cancelled_jobs_tasks_count_as_killed_not_failed() -> None:
    core = subscribed_core()
    submitted(core, partitions=2)
    launch(core, 1.0)
    core.cancel("j", 2.0)
    counts: dict[str, Any] = job_view(core.active["j"].job)["tasks"]
    assert counts == {"total": 2, "pending": 0, "running": 0, "finished": 0, "failed": 0,
                      "killed": 2}


def test_the_job_view_carries_its_spec() -> None:
    core = subscribed_core()
    submitted(core)
    spec = job_view(core.active["j"].job)["spec"]
    assert (spec["operation"], spec["inputs"], spec["resources"]) == (
        "count", ["d"], {"cpus": 0.25, "mem": 64.0})


def test_a_running_task_shows_its_elapsed_time_and_a_backoff_its_end() -> None:
    core = subscribed_core()
    submitted(core)
    [tid] = launch(core, 1.0)
    assert task_view(task(core), 1.5)["elapsed"] == 0.5  # launched, not yet running
    core.on_status(status(tid, "TASK_RUNNING"), 2.0)
    assert task_view(task(core), 9.25)["elapsed"] == 7.25
    core.on_status(failed(tid), 10.0)
    view = task_view(task(core), 10.5)
    assert view["elapsed"] == 8.0  # the attempt ended: its time stops
    assert view["not_before"] == "1970-01-01T00:00:11.000Z"
    assert task_view(task(core), 11.0)["not_before"] is None


def test_progress_counts_only_from_the_live_attempt() -> None:
    core = subscribed_core()
    submitted(core)
    [tid] = launch(core, 1.0)
    core.on_message(Progress(task_id=tid, progress=0.5).to_bytes())
    assert task(core).progress == 0.5
    core.on_status(failed(tid), 2.0)
    [again] = launch(core, 3.5, "o2")
    core.on_message(Progress(task_id=tid, progress=0.75).to_bytes())  # the failed attempt's
    assert task(core).progress == 0.0
    core.on_message(Progress(task_id=again, progress=0.25).to_bytes())
    assert task_view(task(core), 4.0)["progress"] == 0.25
