"""Whose fault a failed attempt was, and what happens next (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mesosapi.taskstates import TaskState


class Fault(StrEnum):
    WORK = "work"  # the operation raised, a command exited non-zero: charged to max_retries
    INFRA = "infra"  # lost agent, dead executor, dropped launch: retried under a separate cap


# Mesos states that end an attempt without the work having been judged.
_INFRA_STATES = frozenset(
    {TaskState.LOST, TaskState.GONE, TaskState.GONE_BY_OPERATOR, TaskState.UNREACHABLE,
     TaskState.DROPPED, TaskState.UNKNOWN}
)
# Reasons under which Mesos itself (not the work) failed or killed the task.
_INFRA_REASONS = frozenset(
    {"REASON_EXECUTOR_TERMINATED", "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
     "REASON_EXECUTOR_REREGISTRATION_TIMEOUT", "REASON_AGENT_DISCONNECTED",
     "REASON_AGENT_REMOVED", "REASON_AGENT_RESTARTED", "REASON_CONTAINER_LAUNCH_FAILED",
     "REASON_CONTAINER_PREEMPTED", "REASON_GC_ERROR", "REASON_INVALID_OFFERS",
     "REASON_MASTER_DISCONNECTED", "REASON_RESOURCES_UNKNOWN", "REASON_TASK_UNKNOWN",
     "REASON_INVALID_FRAMEWORKID"}
)
FAILED_STATES = frozenset({TaskState.FAILED, TaskState.ERROR, TaskState.KILLED}) | _INFRA_STATES


def classify(status: dict[str, Any]) -> Fault:
    """Blame a terminal, unsuccessful Mesos TaskStatus on the work or the infrastructure."""
    state = status.get("state", "")
    if state in _INFRA_STATES or status.get("reason", "") in _INFRA_REASONS:
        return Fault.INFRA
    if state == TaskState.KILLED:
        # A kill femto asked for never reaches here; one it did not ask for came
        # from an operator or the agent, not from the work.
        return Fault.INFRA
    if state == TaskState.FAILED and status.get("source") == "SOURCE_EXECUTOR":
        return Fault.WORK
    if state == TaskState.FAILED and status.get("source") in ("SOURCE_AGENT", "SOURCE_MASTER"):
        return Fault.INFRA
    return Fault.WORK


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    backoff_base: float = 1.0  # seconds before the first retry
    backoff_max: float = 60.0
    infra_cap: int = 20  # infrastructure retries per task, beyond max_retries

    def backoff(self, failures: int) -> float:
        """Exponential backoff after the `failures`-th failed attempt (1-based)."""
        return float(min(self.backoff_max, self.backoff_base * 2 ** max(0, failures - 1)))


@dataclass(frozen=True, slots=True)
class RetryDecision:
    retry: bool
    delay: float
    reason: str


def decide(
    fault: Fault, charged: int, infra: int, max_retries: int, policy: RetryPolicy
) -> RetryDecision:
    """What to do after a failed attempt, given the counts including this failure."""
    if fault is Fault.WORK and charged > max_retries:
        return RetryDecision(False, 0.0, f"failed {charged} times (max_retries={max_retries})")
    if fault is Fault.INFRA and infra > policy.infra_cap:
        return RetryDecision(
            False, 0.0, f"lost {infra} times to infrastructure failures (cap {policy.infra_cap})"
        )
    return RetryDecision(True, policy.backoff(charged + infra), "")
