"""The `backend` fixture: every contract test runs on SQLite and on MongoDB."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from femto.store import Store, open_store
from tests.services import MongoServer


@dataclass
class Backend:
    name: str
    url: str
    mongo: MongoServer | None = None
    opened: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        """A new store object on the same data (a reopen, or a second process)."""
        store = open_store(self.url)
        self.opened.append(store)
        return store

    @property
    def local_blobs(self) -> bool:
        return self.mongo is None


@pytest.fixture(params=["sqlite", "mongo"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        backend = Backend("sqlite", f"sqlite:///{tmp_path / 'state' / 'femto.db'}")
    else:
        mongo: MongoServer = request.getfixturevalue("mongo")
        backend = Backend("mongo", mongo.url, mongo)
    yield backend
    for store in backend.opened:
        store.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()
