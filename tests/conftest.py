from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import MongoServer, ZooKeeperServer, zookeeper_available


@pytest.fixture
def zookeeper(tmp_path: Path) -> Iterator[ZooKeeperServer]:
    """A private ZooKeeper server; `stop()`/`start()` restart it on the same port."""
    if not zookeeper_available():
        pytest.fail("ZooKeeper is not installed: run `bash tests/run`, which installs it")
    server = ZooKeeperServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mongo(tmp_path: Path) -> Iterator[MongoServer]:
    """A MongoDB-wire server (SecantusDB); `.url` is a mongodb:// URL."""
    server = MongoServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        # Its data dir is thrown away: a clean shutdown (~2 s) buys nothing here.
        server.kill()
