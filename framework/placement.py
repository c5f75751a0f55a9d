"""Which task goes into which offer (pure).

Delay scheduling: a task whose data lives on known hosts waits up to
`locality_wait` seconds for an offer from one of them, then runs anywhere.
Agents where the task already failed are used only when nothing else fits.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)  # what names a task to its caller (the core: the task)


@dataclass(slots=True)
class OfferSlot:
    offer_id: str
    agent_id: str
    hostname: str
    cpus: float
    mem: float
    has_executor: bool  # femto's executor already runs on this agent


@dataclass(frozen=True, slots=True)
class Candidate(Generic[K]):
    key: K
    cpus: float
    mem: float
    preferred_hosts: frozenset[str] = frozenset()
    avoid_agents: frozenset[str] = frozenset()
    waiting_since: float = 0.0


@dataclass(frozen=True, slots=True)
class ExecutorCost:
    cpus: float
    mem: float


@dataclass(slots=True)
class Placement(Generic[K]):
    by_offer: dict[str, list[K]] = field(default_factory=dict)
    waiting_for_locality: int = 0  # tasks held back for a local offer

    def placed(self) -> int:
        return sum(len(keys) for keys in self.by_offer.values())


_EPSILON = 1e-9
# Once this many tasks in a row fit nowhere the offers are taken to be full: the
# rest of a long queue is not walked for every offer.
GIVE_UP_AFTER = 64


def _fits(slot: OfferSlot, task: Candidate[K], executor: ExecutorCost) -> bool:
    cpus, mem = task.cpus, task.mem
    if not slot.has_executor:
        cpus += executor.cpus
        mem += executor.mem
    return slot.cpus + _EPSILON >= cpus and slot.mem + _EPSILON >= mem


def place(
    offers: Sequence[OfferSlot],
    tasks: Iterable[Candidate[K]],
    *,
    now: float,
    locality_wait: float,
    executor: ExecutorCost,
) -> Placement[K]:
    """Assign tasks (in priority order) to offers; mutates the offers' free resources."""
    result: Placement[K] = Placement()
    misses = 0
    for task in tasks:
        if not offers or misses >= GIVE_UP_AFTER:
            break
        fitting = [slot for slot in offers if _fits(slot, task, executor)]
        if not fitting:
            misses += 1
            continue
        misses = 0
        local = [slot for slot in fitting if slot.hostname in task.preferred_hosts]
        if task.preferred_hosts and not local and now - task.waiting_since < locality_wait:
            result.waiting_for_locality += 1
            continue
        pool = local or fitting
        fresh = [slot for slot in pool if slot.agent_id not in task.avoid_agents]
        pool = fresh or pool
        # Spread: the agent with the most free cpus takes the task.
        slot = max(pool, key=lambda s: (s.cpus, s.mem))
        if not slot.has_executor:
            slot.cpus -= executor.cpus
            slot.mem -= executor.mem
            slot.has_executor = True
        slot.cpus -= task.cpus
        slot.mem -= task.mem
        result.by_offer.setdefault(slot.offer_id, []).append(task.key)
    return result


def _cost(cpus: float, mem: float) -> str:
    return f"cpus {cpus:g}, mem {mem:g}"


@dataclass(slots=True)
class AgentRoom:
    """The most each agent has offered, as far as this scheduler has seen.

    Offers show an agent's free resources, so the largest offer seen is a lower bound on
    what the agent can give one task. Kept apart for offers made with and without femto's
    executor on the agent: without it, a task must also pay for the executor."""

    best: dict[tuple[str, bool], OfferSlot] = field(default_factory=dict)

    def observe(self, slot: OfferSlot) -> None:
        key = (slot.agent_id, slot.has_executor)
        seen = self.best.get(key)
        if seen is None:
            self.best[key] = OfferSlot("", slot.agent_id, slot.hostname, slot.cpus, slot.mem,
                                       slot.has_executor)
        else:
            seen.cpus, seen.mem = max(seen.cpus, slot.cpus), max(seen.mem, slot.mem)

    def forget(self, agent_id: str) -> None:
        """An agent that left the cluster gives nothing any more."""
        for key in [k for k in self.best if k[0] == agent_id]:
            del self.best[key]

    def unplaceable(self, cpus: float, mem: float, executor: ExecutorCost) -> str | None:
        """Why a task asking `cpus`, `mem` fits no agent seen so far, or None if one offered
        enough (or none has offered yet: nothing is known)."""
        if not self.best:
            return None
        task = Candidate("", cpus, mem)
        if any(_fits(slot, task, executor) for slot in self.best.values()):
            return None
        most_cpus = max(slot.cpus for slot in self.best.values())
        most_mem = max(slot.mem for slot in self.best.values())
        return (
            f"no agent offers enough for a task: it needs {_cost(cpus, mem)} (plus the "
            f"executor's {_cost(executor.cpus, executor.mem)} on an agent that does not run "
            f"it yet); the most any agent offered is {_cost(most_cpus, most_mem)}"
        )
