"""MongoDB specifics: server restarts, an unreachable server, indexes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pymongo
import pytest

from femto.store import StoreUnavailable, open_store
from femto.store.mongo import client_options
from tests.services import MongoServer


def eventually(call: Callable[[], Any], timeout: float) -> Any:
    """The first result of `call` that is not StoreUnavailable, within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_data_and_store_survive_a_server_restart(mongo: MongoServer) -> None:
    store = open_store(mongo.url)
    store.put_many("jobs", {"j1": {"state": "RUNNING"}, "j2": {"state": "PENDING"}})
    store.put_blob("d/0", b"x" * 1000)
    mongo.stop()
    mongo.start()
    # The same store object reconnects by itself.
    assert eventually(lambda: store.get("jobs", "j1"), timeout=10) == {"state": "RUNNING"}
    store.put("jobs", "j3", {"state": "PENDING"})
    assert [j["state"] for j in store.find("jobs", state="PENDING")] == ["PENDING", "PENDING"]
    assert store.get_blob("d/0") == b"x" * 1000
    store.close()


def test_server_down_raises_store_unavailable_quickly(mongo: MongoServer) -> None:
    store = open_store(mongo.url)
    fast = open_store(mongo.url + "&serverSelectionTimeoutMS=200")
    store.put("jobs", "j", {"state": "PENDING"})
    mongo.stop()
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.get("jobs", "j")
    assert time.monotonic() - started < 8
    calls: list[Callable[[], Any]] = [
        lambda: fast.put("jobs", "j", {}),
        lambda: fast.put_many("tasks", {"t": {"job_id": "j"}}),
        lambda: fast.find("tasks", job_id="j"),
        lambda: fast.insert_if_absent("partials", "j.0", {}),
        lambda: fast.delete_where("tasks", job_id="j"),
        lambda: fast.put_blob("b", b"data"),
        lambda: fast.get_blob("b"),
        lambda: fast.set_fence("leader", 1),
        lambda: open_store(mongo.url + "&serverSelectionTimeoutMS=200"),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            call()
        assert time.monotonic() - started < 2
    mongo.start()
    assert eventually(lambda: store.get("jobs", "j"), timeout=10) == {"state": "PENDING"}
    store.close()
    fast.close()


def test_engine_fields_are_indexed_in_the_database_from_the_url(mongo: MongoServer) -> None:
    url = mongo.url.replace("/?", "/science?")
    open_store(url).close()
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongo.url)
    try:
        db = client["science"]
        for collection, field in [
            ("tasks", "job_id"),
            ("tasks", "state"),
            ("jobs", "state"),
            ("partials", "job_id"),
        ]:
            keys = [info["key"][0][0] for info in db[collection].index_information().values()]
            assert f"d.{field}" in keys, (collection, keys)
        assert "femto" not in client.list_database_names()
    finally:
        client.close()


def test_url_options_override_the_default_timeouts() -> None:
    options = client_options("mongodb://h1,h2/db?replicaSet=rs&ServerSelectionTimeoutMS=500")
    assert "serverSelectionTimeoutMS" not in options
    assert options["connectTimeoutMS"] == 3000


def test_an_unreachable_server_fails_every_later_call_at_once(mongo: MongoServer) -> None:
    store = open_store(mongo.url)
    store.put("jobs", "j", {"state": "PENDING"})
    mongo.stop()
    with pytest.raises(StoreUnavailable):
        store.get("jobs", "j")  # finds out: waits out the server selection timeout
    # Every call after it fails without waiting for the server again: a second each, as
    # before, would keep the engine lock (and the API behind it) for seconds.
    for call in (lambda: store.get("jobs", "j"), lambda: store.put("jobs", "k", {}),
                 lambda: store.find("jobs"), lambda: store.get_blob("b")):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="failing fast"):
            call()
        assert time.monotonic() - started < 0.5
    mongo.start()
    # A background ping notices the server is back; nobody has to call to find out.
    assert eventually(lambda: store.get("jobs", "j"), timeout=10) == {"state": "PENDING"}
    store.close()
