"""The allocation interval (hierarchical.cpp): with one, resources that come back wait for
the next batch allocation; a new framework and REVIVE are allocated to at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localmesos import LocalMesos
from localmesos.cluster import ALLOCATION_INTERVAL_ENV, default_allocation_interval
from tests.localmesos.raw_scheduler import RawScheduler

HOUR = 3600.0  # no batch falls within the test


@pytest.fixture
def batched(tmp_path: Path) -> Iterator[LocalMesos]:
    with LocalMesos(agents=1, cpus=1.0, mem=512.0, work_dir=tmp_path,
                    allocation_interval=HOUR) as cluster:
        yield cluster


def test_declined_resources_wait_for_the_batch_but_revive_allocates_at_once(
    batched: LocalMesos,
) -> None:
    scheduler = RawScheduler(batched.url)
    try:
        scheduler.subscribe()
        offer = scheduler.offers()[0]  # a new framework is allocated to at once
        assert batched.state()["flags"]["allocation_interval"] == "3600secs"
        declined = len(scheduler.events)
        response = scheduler.call("DECLINE", {"offer_ids": [offer["id"]],
                                              "filters": {"refuse_seconds": 0}})
        assert response.status_code == 202, response.text
        # The master answers calls in order: once this reconciliation's answer is in, an
        # allocation made on the DECLINE would have been sent before it.
        scheduler.call("RECONCILE", {"tasks": [{"task_id": {"value": "nothing"}}]})
        scheduler.wait_for(lambda e: e["type"] == "UPDATE", start=declined)
        assert not [e for e in scheduler.events[declined:] if e["type"] == "OFFERS"]

        revived = len(scheduler.events)
        assert scheduler.call("REVIVE").status_code == 202
        [again] = scheduler.offers(revived)
        assert again["agent_id"] == offer["agent_id"]
    finally:
        scheduler.stop()


def test_the_default_interval_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ALLOCATION_INTERVAL_ENV, raising=False)
    assert default_allocation_interval() is None
    monkeypatch.setenv(ALLOCATION_INTERVAL_ENV, "1")
    assert default_allocation_interval() == 1.0
    monkeypatch.setenv(ALLOCATION_INTERVAL_ENV, "0")
    assert default_allocation_interval() is None
    monkeypatch.setenv(ALLOCATION_INTERVAL_ENV, "soon")
    with pytest.raises(ValueError, match=ALLOCATION_INTERVAL_ENV):
        default_allocation_interval()


def test_one_decline_of_two_agents_offers_filters_both(tmp_path: Path) -> None:
    """Master::decline takes each offer on its own (only ACCEPT wants one agent): a
    framework that declines every offer in one call is not offered them again at once."""
    with LocalMesos(agents=2, cpus=1.0, mem=512.0, work_dir=tmp_path,
                    allocation_interval=0.05) as cluster:
        scheduler = RawScheduler(cluster.url)
        try:
            scheduler.subscribe()
            offers = scheduler.offers(count=2)
            assert len({o["agent_id"]["value"] for o in offers}) == 2
            declined = len(scheduler.events)
            response = scheduler.call("DECLINE", {"offer_ids": [o["id"] for o in offers],
                                                  "filters": {"refuse_seconds": HOUR}})
            assert response.status_code == 202, response.text
            # Many allocation batches pass; a RECONCILE answer marks that the master
            # has handled everything before it.
            scheduler.call("RECONCILE", {"tasks": [{"task_id": {"value": "nothing"}}]})
            scheduler.wait_for(lambda e: e["type"] == "UPDATE", start=declined)
            time.sleep(0.5)
            assert not [e for e in scheduler.events[declined:] if e["type"] == "OFFERS"]
        finally:
            scheduler.stop()
