"""Which framework is offered which agent's free resources: pure functions over data."""

from __future__ import annotations

from dataclasses import dataclass, field

from localmesos.resources import Resources


@dataclass(frozen=True)
class Filter:
    """A refusal from DECLINE or the unused part of an ACCEPT (`refuse_seconds`)."""

    resources: Resources
    until: float

    def blocks(self, available: Resources, now: float) -> bool:
        # As in Mesos, resources beyond what was refused (e.g. freed by a
        # finished task) lift the filter early.
        return now < self.until and self.resources.contains(available)


@dataclass
class Candidate:
    """A subscribed, non-suppressed framework: its cpus in use or offered, and its filters."""

    framework_id: str
    allocated_cpus: float
    filters: dict[str, Filter] = field(default_factory=dict)


def allocate(
    available: dict[str, Resources], candidates: list[Candidate], now: float
) -> list[tuple[str, str]]:
    """Pairs (framework_id, agent_id): each agent's free resources go to one framework.

    The framework with the smallest cpu allocation that does not filter the
    agent wins (a simple form of Mesos' dominant resource fairness); ties go
    to the earlier candidate.
    """
    pairs: list[tuple[str, str]] = []
    allocated = {c.framework_id: c.allocated_cpus for c in candidates}
    for agent_id in sorted(available):
        free = available[agent_id]
        if not free.offerable():
            continue
        eligible = [
            c
            for c in candidates
            if not (agent_id in c.filters and c.filters[agent_id].blocks(free, now))
        ]
        if not eligible:
            continue
        chosen = min(eligible, key=lambda c: allocated[c.framework_id])
        allocated[chosen.framework_id] += free.scalars.get("cpus", 0.0)
        pairs.append((chosen.framework_id, agent_id))
    return pairs
