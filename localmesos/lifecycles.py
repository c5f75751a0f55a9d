"""The state machines of tasks, frameworks and executors, as enums with transition tables."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from mesosapi.taskstates import TERMINAL, TaskState

_ACTIVE_NEXT = frozenset(
    {TaskState.STARTING, TaskState.RUNNING, TaskState.KILLING} | TERMINAL
)

# An executor may repeat RUNNING (e.g. with new data); nothing leaves a terminal state.
# TASK_UNREACHABLE is not terminal (mesos.proto): the master marks a live task so when
# its agent stops answering pings, and the task takes up its agent's state again when the
# agent re-registers (master.cpp `__reregisterSlave`), whatever it was or has become.
TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.STAGING: _ACTIVE_NEXT | {TaskState.UNREACHABLE},
    TaskState.STARTING: _ACTIVE_NEXT | {TaskState.UNREACHABLE},
    TaskState.RUNNING: (_ACTIVE_NEXT - {TaskState.STARTING}) | {TaskState.UNREACHABLE},
    TaskState.KILLING: (_ACTIVE_NEXT - {TaskState.STARTING, TaskState.RUNNING})
    | {TaskState.UNREACHABLE},
    TaskState.UNREACHABLE: _ACTIVE_NEXT | {TaskState.STAGING},
    **{state: frozenset() for state in TERMINAL},
}


def task_may_become(current: TaskState, new: TaskState) -> bool:
    return new in TASK_TRANSITIONS.get(current, frozenset())


class FrameworkState(Enum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # waiting up to failover_timeout for a re-SUBSCRIBE
    COMPLETED = "completed"  # torn down; its id is never accepted again


FRAMEWORK_TRANSITIONS: dict[FrameworkState, frozenset[FrameworkState]] = {
    FrameworkState.CONNECTED: frozenset({FrameworkState.DISCONNECTED, FrameworkState.COMPLETED}),
    FrameworkState.DISCONNECTED: frozenset({FrameworkState.CONNECTED, FrameworkState.COMPLETED}),
    FrameworkState.COMPLETED: frozenset(),
}


class ExecutorState(Enum):
    LAUNCHING = "launching"  # process started, not subscribed yet: tasks queue
    RUNNING = "running"  # subscribed: tasks are delivered as LAUNCH events
    TERMINATING = "terminating"  # SHUTDOWN sent, waiting for the process to exit
    TERMINATED = "terminated"


EXECUTOR_TRANSITIONS: dict[ExecutorState, frozenset[ExecutorState]] = {
    ExecutorState.LAUNCHING: frozenset(
        {ExecutorState.RUNNING, ExecutorState.TERMINATING, ExecutorState.TERMINATED}
    ),
    # RUNNING -> LAUNCHING: the executor's stream dropped (agent restart); it may re-subscribe.
    ExecutorState.RUNNING: frozenset(
        {ExecutorState.LAUNCHING, ExecutorState.TERMINATING, ExecutorState.TERMINATED}
    ),
    ExecutorState.TERMINATING: frozenset({ExecutorState.TERMINATED}),
    ExecutorState.TERMINATED: frozenset(),
}


class AgentState(Enum):
    """The master's view of an agent (master.cpp: registered, disconnected, unreachable)."""

    REGISTERED = "registered"
    DISCONNECTED = "disconnected"  # its connection broke: no offers; pings go unanswered
    UNREACHABLE = "unreachable"  # missed max_agent_ping_timeouts pings; it may re-register
    REMOVED = "removed"  # gone for good (the remove_agent fault hook)


AGENT_TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    AgentState.REGISTERED: frozenset({AgentState.DISCONNECTED, AgentState.REMOVED}),
    AgentState.DISCONNECTED: frozenset(
        {AgentState.REGISTERED, AgentState.UNREACHABLE, AgentState.REMOVED}
    ),
    AgentState.UNREACHABLE: frozenset({AgentState.REGISTERED, AgentState.REMOVED}),
    AgentState.REMOVED: frozenset(),
}


S = TypeVar("S", FrameworkState, ExecutorState, AgentState)


class TransitionError(RuntimeError):
    """A state change the machine does not allow: a bug in localmesos, never user input."""


def check_transition(table: dict[S, frozenset[S]], current: S, new: S) -> None:
    if new not in table[current]:
        raise TransitionError(f"{type(current).__name__}: {current.name} -> {new.name}")
