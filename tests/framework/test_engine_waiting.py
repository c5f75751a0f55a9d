"""The engine's word on a job no agent can hold: only after the locality wait, from the
offers seen (offers show free resources: docs/app-framework-development-guide.md,
"Scheduler", resourceOffers), cleared when an agent offers enough, forgotten with a lost
agent; the job stays PENDING throughout."""

from __future__ import annotations

from typing import Any

from femto.store.sqlite import SqliteStore
from tests.framework.engine_helpers import engine_on, offer

BIG = {"name": "big", "operation": "count", "inputs": ["d"],
       "resources": {"cpus": 8.0, "mem": 64.0}}


def sized(offer_id: str, agent: str, cpus: float) -> dict[str, Any]:
    made = offer(offer_id, agent)
    made["resources"][0]["scalar"]["value"] = cpus
    return made


def test_waiting_says_why_after_the_locality_wait_and_clears_on_a_big_enough_offer(
    store: SqliteStore,
) -> None:
    now = [1_000.0]
    engine, _ = engine_on(store, lambda: now[0])
    try:
        job, _ = engine.submit(BIG)
        engine.on_offers([sized("o1", "agent-1", 4.0)])
        engine.tick()
        assert engine.job(job["id"])["waiting"] is None  # not yet waited a while

        now[0] += engine.config.locality_wait + 1
        engine.tick()
        view = engine.job(job["id"])
        assert view["state"] == "PENDING"
        assert view["waiting"].startswith("no agent offers enough for a task: it needs cpus 8")
        assert view["waiting"].endswith("the most any agent offered is cpus 4, mem 4096")

        # Exactly the task's cpus is not enough: the executor must fit beside it.
        engine.on_offers([sized("o2", "agent-2", 8.0)])
        engine.tick()
        assert engine.job(job["id"])["waiting"] is not None

        engine.on_offers([sized("o3", "agent-3", 8.5)])  # launches there
        engine.tick()
        assert engine.job(job["id"])["waiting"] is None
    finally:
        engine.halt()


def test_a_lost_agent_no_longer_counts_as_able_to_hold_a_task(store: SqliteStore) -> None:
    now = [1_000.0]
    engine, _ = engine_on(store, lambda: now[0])
    try:
        engine.on_offers([sized("o1", "agent-1", 16.0)])  # idle: declined, but remembered
        engine.on_agent_lost("agent-1")
        engine.on_offers([sized("o2", "agent-2", 2.0)])
        job, _ = engine.submit(BIG)
        now[0] += engine.config.locality_wait + 1
        engine.tick()
        assert "the most any agent offered is cpus 2" in engine.job(job["id"])["waiting"]
    finally:
        engine.halt()
