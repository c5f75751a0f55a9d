"""Choosing a backend from a store URL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from femto.store import StoreUnavailable, open_store
from femto.store.sqlite import SqliteStore


def test_sqlite_url_opens_the_file_and_creates_its_directory(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/state/femto.db")
    assert isinstance(store, SqliteStore)
    store.put("meta", "k", {"v": 1})
    store.close()
    assert (tmp_path / "state" / "femto.db").is_file()
    assert (tmp_path / "state" / "blobs").is_dir()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://db/femto", "unsupported scheme 'postgres'"),
        ("femto.db", "unsupported scheme 'femto.db'"),
        ("sqlite://relative/femto.db", "absolute file path"),
        ("sqlite:///", "absolute file path"),
        ("mongodb://127.0.0.1:notaport/femto", "bad MongoDB URL"),
        ("mongodb://u:s3cret@127.0.0.1:notaport/femto", r"'mongodb://\*\*\*@127"),
        ("redis://u:s3cret@host/0", r"'redis://\*\*\*@host/0'"),
    ],
)
def test_bad_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        open_store(url)
    assert "s3cret" not in str(raised.value)


def test_unreachable_mongodb_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        open_store("mongodb://127.0.0.1:1/femto?serverSelectionTimeoutMS=300")
    assert time.monotonic() - started < 3
