"""The job store: documents and blobs on SQLite (embedded) or MongoDB (clusters)."""

from __future__ import annotations

from femto.store.base import (
    COLLECTIONS,
    LEADER_FENCE,
    Fenced,
    KeyConflict,
    Store,
    StoreError,
    StoreUnavailable,
)

__all__ = [
    "COLLECTIONS",
    "LEADER_FENCE",
    "Fenced",
    "KeyConflict",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]

from femto.store.checks import redacted

_SQLITE = "sqlite://"


def open_store(url: str) -> Store:
    """A store for `sqlite:///ABS/PATH.db`, `sqlite:///:memory:` or `mongodb(+srv)://...`."""
    if url.startswith(_SQLITE):
        from femto.store.sqlite import SqliteStore

        path = url[len(_SQLITE) :]
        if path == "/:memory:":
            return SqliteStore(":memory:")
        if not path.startswith("/") or path == "/":
            raise ValueError(
                f"store URL {url!r}: a sqlite URL needs an absolute file path, "
                "as in sqlite:///var/lib/femto/femto.db"
            )
        return SqliteStore(path)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from femto.store.mongo import MongoStore

        return MongoStore(url)
    scheme = url.split("://", 1)[0] if "://" in url else url
    raise ValueError(
        f"store URL {redacted(url)!r}: unsupported scheme {scheme!r}; "
        "use sqlite:///ABS/PATH.db or mongodb://HOST/DB"
    )
