"""ACCEPT with invalid offers or tasks: 202, then the updates real Mesos sends.

src/master/master.cpp `Master::accept` and src/master/validation.cpp (`offer::validate`,
`task::internal::validateTask` / `validateExecutor`): invalid offers drop every task
(TASK_LOST, or TASK_DROPPED for PARTITION_AWARE frameworks, REASON_INVALID_OFFERS);
an invalid task gets TASK_ERROR, REASON_TASK_INVALID, with the validation error.
(The 4xx answers to malformed calls are in test_protocol_answers.py.)"""

from __future__ import annotations

from localmesos import LocalMesos
from tests.localmesos.conftest import executor_info
from tests.localmesos.raw_scheduler import RawScheduler, command_task


def test_accept_validation(scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    first, second = scheduler.offers(count=2)
    # More than the offer holds.
    scheduler.accept([first], [command_task("greedy", first, "true", cpus=5.0)], refuse_seconds=0)
    error = scheduler.wait_update("greedy", "TASK_ERROR")
    assert error["reason"] == "REASON_TASK_INVALID" and error["source"] == "SOURCE_MASTER"
    assert error["message"].startswith("Total resources ")
    assert "required by task and its executor is more than available" in error["message"]
    # An offer already used.
    scheduler.accept([first], [command_task("late", first, "true")])
    dropped = scheduler.wait_update("late", "TASK_LOST")
    assert dropped["reason"] == "REASON_INVALID_OFFERS" and dropped["source"] == "SOURCE_MASTER"
    offer_id = first["id"]["value"]
    assert dropped["message"] == (
        f"Task launched with invalid offers: Offer {offer_id} is no longer valid"
    )
    # A task for another agent than the offer's.
    elsewhere = {**command_task("elsewhere", second, "true"), "agent_id": first["agent_id"]}
    # An id with a slash (ids name directories).
    slashed = command_task("a/b", second, "true")
    # Neither command nor executor; both.
    broken = command_task("neither", second, "true")
    del broken["command"]
    both = {**command_task("both", second, "true"), "executor": executor_info("e")}
    scheduler.accept([second], [broken, both, elsewhere, slashed])
    for task_id in ("neither", "both"):
        assert scheduler.wait_update(task_id, "TASK_ERROR")["message"] == (
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
        )
    assert scheduler.wait_update("elsewhere", "TASK_ERROR")["message"] == (
        f"Task uses invalid agent {first['agent_id']['value']}"
        f" while agent {second['agent_id']['value']} is expected"
    )
    slash = scheduler.wait_update("a/b", "TASK_ERROR")
    assert slash["message"] == "'a/b' contains invalid characters"


def test_accept_of_no_offers_or_duplicates_drops_the_tasks(cluster: LocalMesos) -> None:
    aware = RawScheduler(cluster.url, capabilities=[{"type": "PARTITION_AWARE"}])
    try:
        aware.subscribe()
        offer = aware.offers()[0]
        launch = {"type": "LAUNCH", "launch": {"task_infos": [command_task("none", offer, "true")]}}
        assert aware.call("ACCEPT", {"offer_ids": [], "operations": [launch]}).status_code == 202
        dropped = aware.wait_update("none", "TASK_DROPPED")
        assert dropped["reason"] == "REASON_INVALID_OFFERS"
        assert dropped["message"] == "Task launched with invalid offers: No offers specified"
        aware.accept([offer, offer], [command_task("twice", offer, "true")])
        offer_id = offer["id"]["value"]
        assert aware.wait_update("twice", "TASK_DROPPED")["message"] == (
            f"Task launched with invalid offers: Duplicate offer {offer_id} in offer list"
        )
    finally:
        aware.stop()
