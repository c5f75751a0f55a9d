"""The master's side of its connection to one agent: health pings and what waits for the
agent to re-register."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from localmesos.lifecycles import AGENT_TRANSITIONS, AgentState, check_transition


@dataclass(frozen=True)
class Acknowledgement:
    """A scheduler's acknowledgement of an executor's update, on its way to the agent."""

    framework_id: str
    executor_id: str
    task_id: str
    uuid: str


@dataclass(eq=False)
class AgentLink:
    state: AgentState = AgentState.REGISTERED
    missed_pings: int = 0
    unreachable_time: float | None = None  # when the master marked it unreachable
    ping: asyncio.TimerHandle | None = None
    # As the real master's `Slave::killedTasks`: kills asked for while the agent is
    # disconnected, sent when it re-registers. Forgotten once it is marked unreachable
    # (a kill of an unreachable task is answered by reconciliation instead).
    killed_tasks: set[tuple[str, str]] = field(default_factory=set)
    # Stands in for the agent re-sending the unacknowledged updates after re-registering
    # and the scheduler acknowledging them again: the executor learns of them then.
    acknowledgements: list[Acknowledgement] = field(default_factory=list)

    @property
    def reachable(self) -> bool:
        return self.state is AgentState.REGISTERED

    def transition(self, new: AgentState) -> None:
        check_transition(AGENT_TRANSITIONS, self.state, new)
        self.state = new
