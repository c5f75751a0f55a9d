"""Placement, retry policy and state tables: plain functions over data."""

from __future__ import annotations

import pytest

from femto.lifecycle import (
    InvalidTransition,
    JobState,
    TaskState,
    job_transition,
    task_transition,
)
from femto.model import parse_mesos_task_id
from femto.placement import AgentRoom, Candidate, ExecutorCost, OfferSlot, place
from femto.retries import Fault, RetryPolicy, classify, decide

NO_EXECUTOR_COST = ExecutorCost(0.0, 0.0)


def slot(offer: str, agent: str, cpus: float = 1.0, mem: float = 1024.0) -> OfferSlot:
    return OfferSlot(offer, agent, f"host-{agent}", cpus, mem, has_executor=True)


def task(key: str, cpus: float = 0.25, **kwargs: object) -> Candidate:
    return Candidate(key=key, cpus=cpus, mem=64.0, **kwargs)  # type: ignore[arg-type]


def test_placement_packs_as_many_tasks_as_fit_and_spreads_them() -> None:
    offers = [slot("o1", "a1"), slot("o2", "a2")]
    plan = place(offers, [task(f"t{i}") for i in range(10)], now=0, locality_wait=3,
                 executor=NO_EXECUTOR_COST)
    assert plan.placed() == 8  # 4 per 1-cpu offer
    assert sorted(len(keys) for keys in plan.by_offer.values()) == [4, 4]
    assert all(s.cpus >= -1e-9 for s in offers)


def test_placement_counts_the_executor_once_per_agent_without_one() -> None:
    offers = [OfferSlot("o1", "a1", "h1", 1.0, 1024.0, has_executor=False)]
    plan = place(offers, [task(f"t{i}") for i in range(4)], now=0, locality_wait=3,
                 executor=ExecutorCost(0.5, 128))
    assert plan.placed() == 2  # 0.5 for the executor, then two 0.25-cpu tasks


def test_delay_scheduling_waits_for_the_data_host_then_runs_anywhere() -> None:
    local = task("t", preferred_hosts=frozenset({"host-a2"}), waiting_since=10.0)
    early = place([slot("o1", "a1")], [local], now=11.0, locality_wait=3,
                  executor=NO_EXECUTOR_COST)
    assert early.placed() == 0 and early.waiting_for_locality == 1
    late = place([slot("o1", "a1")], [local], now=13.5, locality_wait=3,
                 executor=NO_EXECUTOR_COST)
    assert late.by_offer == {"o1": ["t"]}
    both = place([slot("o1", "a1", cpus=4), slot("o2", "a2")], [local], now=11.0,
                 locality_wait=3, executor=NO_EXECUTOR_COST)
    assert both.by_offer == {"o2": ["t"]}  # local beats the bigger offer


def test_placement_avoids_agents_where_the_task_failed_unless_nothing_else_fits() -> None:
    retry = task("t", avoid_agents=frozenset({"a1"}))
    plan = place([slot("o1", "a1", cpus=4), slot("o2", "a2")], [retry], now=0,
                 locality_wait=3, executor=NO_EXECUTOR_COST)
    assert plan.by_offer == {"o2": ["t"]}
    alone = place([slot("o1", "a1")], [retry], now=0, locality_wait=3,
                  executor=NO_EXECUTOR_COST)
    assert alone.by_offer == {"o1": ["t"]}


def test_a_task_too_big_for_every_offer_is_left_pending() -> None:
    plan = place([slot("o1", "a1", cpus=0.5)], [task("big", cpus=2.0), task("small")],
                 now=0, locality_wait=3, executor=NO_EXECUTOR_COST)
    assert plan.by_offer == {"o1": ["small"]}


EXECUTOR = ExecutorCost(0.1, 128.0)


def test_agent_room_knows_nothing_before_any_offer() -> None:
    assert AgentRoom().unplaceable(1000.0, 64.0, EXECUTOR) is None


def test_agent_room_names_what_a_task_needs_and_the_most_any_agent_offered() -> None:
    room = AgentRoom()
    room.observe(OfferSlot("o1", "a1", "h1", 4.0, 1024.0, has_executor=False))
    room.observe(OfferSlot("o2", "a2", "h2", 2.0, 4096.0, has_executor=False))
    reason = room.unplaceable(8.0, 64.0, EXECUTOR)
    assert reason is not None
    assert "needs cpus 8, mem 64" in reason and "executor's cpus 0.1, mem 128" in reason
    assert reason.endswith("the most any agent offered is cpus 4, mem 4096")
    # Each resource on its own agent is not enough: one agent must hold both.
    assert room.unplaceable(3.0, 2048.0, EXECUTOR) is not None
    assert room.unplaceable(3.0, 512.0, EXECUTOR) is None


def test_agent_room_counts_the_executor_only_where_it_does_not_run() -> None:
    room = AgentRoom()
    room.observe(OfferSlot("o1", "a1", "h1", 1.0, 1024.0, has_executor=False))
    assert room.unplaceable(1.0, 64.0, EXECUTOR) is not None  # 1.1 cpus with the executor
    room.observe(OfferSlot("o2", "a1", "h1", 1.0, 896.0, has_executor=True))
    assert room.unplaceable(1.0, 64.0, EXECUTOR) is None


def test_agent_room_keeps_the_largest_offer_and_forgets_a_lost_agent() -> None:
    room = AgentRoom()
    room.observe(OfferSlot("o1", "a1", "h1", 4.0, 1024.0, has_executor=True))
    room.observe(OfferSlot("o2", "a1", "h1", 0.5, 64.0, has_executor=True))  # a busy moment
    assert room.unplaceable(4.0, 1024.0, EXECUTOR) is None
    room.observe(OfferSlot("o3", "a2", "h2", 1.0, 256.0, has_executor=True))
    room.forget("a1")
    assert room.unplaceable(4.0, 1024.0, EXECUTOR) is not None


@pytest.mark.parametrize(
    ("status", "fault"),
    [
        ({"state": "TASK_FAILED", "source": "SOURCE_EXECUTOR", "message": "boom"}, Fault.WORK),
        ({"state": "TASK_FAILED", "source": "SOURCE_AGENT",
          "reason": "REASON_EXECUTOR_TERMINATED"}, Fault.INFRA),
        ({"state": "TASK_LOST", "reason": "REASON_AGENT_REMOVED"}, Fault.INFRA),
        ({"state": "TASK_GONE"}, Fault.INFRA),
        ({"state": "TASK_UNREACHABLE"}, Fault.INFRA),
        ({"state": "TASK_DROPPED"}, Fault.INFRA),
        ({"state": "TASK_ERROR", "source": "SOURCE_MASTER"}, Fault.WORK),
        ({"state": "TASK_KILLED", "source": "SOURCE_AGENT"}, Fault.INFRA),
    ],
)
def test_whose_fault(status: dict[str, str], fault: Fault) -> None:
    assert classify(status) is fault


def test_work_failures_are_charged_and_infra_failures_are_not() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0, infra_cap=5)
    assert decide(Fault.WORK, charged=3, infra=0, max_retries=3, policy=policy).retry
    out = decide(Fault.WORK, charged=4, infra=0, max_retries=3, policy=policy)
    assert not out.retry and "max_retries=3" in out.reason
    # Infrastructure failures ignore max_retries (even 0) up to their own cap.
    assert decide(Fault.INFRA, charged=0, infra=5, max_retries=0, policy=policy).retry
    assert not decide(Fault.INFRA, charged=0, infra=6, max_retries=0, policy=policy).retry


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_state_tables_allow_only_legal_moves() -> None:
    assert task_transition(TaskState.PENDING, TaskState.LAUNCHING) is TaskState.LAUNCHING
    assert task_transition(TaskState.RUNNING, TaskState.PENDING) is TaskState.PENDING
    with pytest.raises(InvalidTransition):
        task_transition(TaskState.FINISHED, TaskState.RUNNING)
    with pytest.raises(InvalidTransition):
        task_transition(TaskState.PENDING, TaskState.RUNNING)
    assert job_transition(JobState.PENDING, JobState.CANCELLED) is JobState.CANCELLED
    with pytest.raises(InvalidTransition):
        job_transition(JobState.FINISHED, JobState.RUNNING)


def test_task_ids_round_trip_and_foreign_ids_are_rejected() -> None:
    assert parse_mesos_task_id("3f2a-uuid.12.3") == ("3f2a-uuid", 12, 3)
    assert parse_mesos_task_id("someone-elses-task") is None
    assert parse_mesos_task_id("a.b.c") is None


def test_placement_stops_walking_the_queue_once_offers_are_full() -> None:
    walked = 0

    def queue():  # type: ignore[no-untyped-def]
        nonlocal walked
        for i in range(100_000):
            walked += 1
            yield task(f"t{i}")

    plan = place([slot("o1", "a1")], queue(), now=0, locality_wait=3,
                 executor=NO_EXECUTOR_COST)
    assert plan.placed() == 4
    assert walked < 100  # not the whole queue for one offer
