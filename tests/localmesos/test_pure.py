"""The pure parts of localmesos: resource arithmetic, allocation, state machines."""

from __future__ import annotations

import pytest

from localmesos.allocator import Candidate, Filter, allocate
from localmesos.environment import stout_duration
from localmesos.lifecycles import (
    AGENT_TRANSITIONS,
    FRAMEWORK_TRANSITIONS,
    AgentState,
    FrameworkState,
    TransitionError,
    check_transition,
    task_may_become,
)
from localmesos.resources import ResourceError, Resources
from mesosapi.taskstates import TERMINAL, TaskState


def res(
    cpus: float = 0.0, mem: float = 0.0, ports: list[tuple[int, int]] | None = None
) -> Resources:
    return Resources({"cpus": cpus, "mem": mem}, {"ports": ports} if ports else {})


def test_resources_parse_and_render_round_trip() -> None:
    proto = res(1.5, 256, [(31000, 31009)]).to_proto("web")
    assert Resources.parse(proto) == res(1.5, 256, [(31000, 31009)])
    assert all(r["allocation_info"] == {"role": "web"} and r["role"] == "*" for r in proto)


def test_resources_arithmetic_keeps_three_decimals() -> None:
    total = Resources()
    for _ in range(10):
        total = total + res(0.1)
    assert total.scalars["cpus"] == 1.0
    assert res(1.0).contains(total)
    assert (total - res(0.3)).scalars["cpus"] == 0.7


def test_port_ranges_split_and_merge() -> None:
    all_ports = res(ports=[(31000, 31999)])
    left = all_ports - res(ports=[(31100, 31199)])
    assert left.ranges["ports"] == [(31000, 31099), (31200, 31999)]
    assert not left.contains(res(ports=[(31150, 31150)]))
    assert (left + res(ports=[(31100, 31199)])).ranges["ports"] == [(31000, 31999)]


def test_contains_rejects_over_commitment() -> None:
    assert not res(1.0, 100).contains(res(1.001, 10))
    assert not res(1.0, 100).contains(res(0.5, 101))
    assert res(1.0, 100).contains(res(1.0, 100))


@pytest.mark.parametrize(
    "bad",
    [
        [{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}],
        [{"name": "disks", "type": "SET", "set": {"item": ["a"]}}],
        [{"type": "SCALAR", "scalar": {"value": 1}}],
        [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 5, "end": 1}]}}],
    ],
)
def test_bad_resources_are_named(bad: list[dict[str, object]]) -> None:
    with pytest.raises(ResourceError):
        Resources.parse(bad)


def test_allocation_prefers_the_least_allocated_framework() -> None:
    available = {"a1": res(2, 512), "a2": res(2, 512)}
    busy = Candidate("busy", allocated_cpus=3.0)
    idle = Candidate("idle", allocated_cpus=0.0)
    pairs = allocate(available, [busy, idle], now=0.0)
    # idle gets a1 (now 2 cpus) then busy is still above idle's 2: idle gets a2 too.
    assert pairs == [("idle", "a1"), ("idle", "a2")]


def test_filters_hold_until_more_resources_are_free() -> None:
    refused = Filter(res(1, 256), until=10.0)
    assert refused.blocks(res(1, 256), now=5.0)
    assert not refused.blocks(res(2, 256), now=5.0)  # a task ended: more is free
    assert not refused.blocks(res(1, 256), now=10.0)  # expired
    candidate = Candidate("f", 0.0, {"a1": refused})
    assert allocate({"a1": res(1, 256)}, [candidate], now=5.0) == []
    assert allocate({"a1": res(0.001, 1)}, [Candidate("g", 0.0)], now=0.0) == []


def test_task_states_never_leave_terminal() -> None:
    assert task_may_become(TaskState.STAGING, TaskState.RUNNING)
    assert task_may_become(TaskState.RUNNING, TaskState.RUNNING)
    assert not task_may_become(TaskState.RUNNING, TaskState.STARTING)
    assert not task_may_become(TaskState.FINISHED, TaskState.RUNNING)
    assert not task_may_become(TaskState.KILLED, TaskState.FAILED)


def test_framework_transitions() -> None:
    check_transition(FRAMEWORK_TRANSITIONS, FrameworkState.CONNECTED, FrameworkState.DISCONNECTED)
    with pytest.raises(TransitionError):
        check_transition(FRAMEWORK_TRANSITIONS, FrameworkState.COMPLETED, FrameworkState.CONNECTED)


def test_unreachable_is_not_terminal() -> None:
    # mesos.proto: TASK_UNREACHABLE may be followed by any state once the agent is back.
    assert TaskState.UNREACHABLE not in TERMINAL
    assert task_may_become(TaskState.RUNNING, TaskState.UNREACHABLE)
    for later in (TaskState.RUNNING, TaskState.KILLED, TaskState.FINISHED, TaskState.STAGING):
        assert task_may_become(TaskState.UNREACHABLE, later)
    assert not task_may_become(TaskState.FINISHED, TaskState.UNREACHABLE)


def test_agent_transitions() -> None:
    check_transition(AGENT_TRANSITIONS, AgentState.REGISTERED, AgentState.DISCONNECTED)
    check_transition(AGENT_TRANSITIONS, AgentState.DISCONNECTED, AgentState.UNREACHABLE)
    check_transition(AGENT_TRANSITIONS, AgentState.UNREACHABLE, AgentState.REGISTERED)
    with pytest.raises(TransitionError):
        check_transition(AGENT_TRANSITIONS, AgentState.REGISTERED, AgentState.UNREACHABLE)
    with pytest.raises(TransitionError):
        check_transition(AGENT_TRANSITIONS, AgentState.REMOVED, AgentState.REGISTERED)
@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(5, "5secs"), (900, "15mins"), (2, "2secs"), (0.5, "500ms"), (1.5, "1500ms"),
     (90, "90secs"), (3600, "1hrs"), (7 * 86400, "1weeks"), (1e-6, "1us"), (0, "0ns")],
)
def test_durations_are_written_as_stout_writes_them(seconds: float, shown: str) -> None:
    # stout/duration.hpp operator<<: the unit bucket, or one down when only it is whole.
    assert stout_duration(seconds) == shown
