"""The store contract: a small document-and-blob store with fencing for HA.

Documents are JSON objects kept under string keys in a fixed set of
collections; blobs are byte strings (`.npy` files) under string keys. Two
backends implement it (SQLite for one machine, MongoDB for clusters) and one
contract test suite runs against both.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import IO, Any, Protocol

COLLECTIONS: tuple[str, ...] = (
    "jobs", "tasks", "datasets", "partials", "meta", "workflows",
    "triggers", "fired",
)

# Top-level fields the engine queries by; backends index these so `find` on
# them stays fast with hundreds of thousands of documents.
INDEXED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "jobs": ("state",),
    "tasks": ("job_id", "state"),
    "datasets": (),
    "partials": ("job_id",),
    "meta": (),
    "workflows": ("state",),
    "triggers": (),
    "fired": ("trigger",),
}

# The fence that `Store.fence(epoch)` binds writes to.
LEADER_FENCE = "leader"


class StoreError(Exception):
    """Base of every error a store raises (never a raw driver error)."""


class KeyConflict(StoreError):
    """`insert` of a key that already exists."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached (refused, timed out, locked): retry later."""


class Fenced(StoreError):
    """A newer epoch holds the fence: this writer is a deposed leader."""


class Store(Protocol):
    """What the engine relies on; see the backends for their consistency notes."""

    def insert(self, collection: str, key: str, doc: Mapping[str, Any]) -> None:
        """Store a new document; KeyConflict if `key` exists."""
        ...

    def insert_if_absent(self, collection: str, key: str, doc: Mapping[str, Any]) -> bool:
        """Store `doc` unless `key` exists; True if this call wrote (first write wins)."""
        ...

    def put(self, collection: str, key: str, doc: Mapping[str, Any]) -> None:
        """Insert or replace."""
        ...

    def put_many(self, collection: str, docs: Mapping[str, Mapping[str, Any]]) -> None:
        """Insert or replace many documents in one batch."""
        ...

    def get(self, collection: str, key: str) -> dict[str, Any] | None:
        """The document under `key`, or None."""
        ...

    def find(self, collection: str, **equals: Any) -> list[dict[str, Any]]:
        """Documents whose top-level fields equal the given scalars, in insertion order.

        A value matches a field of the same JSON type (1 matches 1.0, not
        true or "1"); None matches null or a missing field. Filtering on
        fields that hold arrays or objects is not supported.
        """
        ...

    def find_newest(
        self, collection: str, limit: int, before: int | None = None, **equals: Any
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Up to `limit` documents `find` would return, newest inserted first, starting
        below position `before` (a position an earlier call returned; None: the newest);
        and the position the next page starts below, or None when there is no more.

        A page costs the store `limit` documents, however many match: the API lists jobs
        by page, and a scheduler keeps hundreds of thousands of them."""
        ...

    def count(self, collection: str, **equals: Any) -> int:
        """How many documents `find` would return, without reading them."""
        ...

    def delete(self, collection: str, key: str) -> bool:
        """Remove one document; True if it existed."""
        ...

    def delete_where(self, collection: str, **equals: Any) -> int:
        """Remove the documents `find` would return; how many were removed."""
        ...

    def put_blob(self, key: str, data: bytes) -> None:
        """Store a blob atomically: readers see the old blob or the whole new one."""
        ...

    def get_blob(self, key: str) -> bytes:
        """The blob's bytes; KeyError if absent."""
        ...

    def has_blob(self, key: str) -> bool:
        """Whether the blob exists, without reading it."""
        ...

    def blob_path(self, key: str) -> str | None:
        """An absolute path of the blob as a local `.npy` file, or None (absent or remote)."""
        ...

    def open_blob(self, key: str) -> IO[bytes]:
        """The blob as a seekable binary file, to read a part of it; KeyError if absent."""
        ...

    def delete_blob(self, key: str) -> bool:
        """Remove a blob; True if it existed."""
        ...

    def set_fence(self, name: str, epoch: int) -> None:
        """Record `epoch` for fence `name`; Fenced if a greater epoch is recorded."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """Writes this thread makes inside commit together on leaving, or not at all if
        it raises, where the backend can (SQLite); elsewhere each write stands alone."""
        ...

    def fence(self, epoch: int | None) -> None:
        """Bind this store to leader epoch `epoch` (None unbinds).

        While bound, every write raises Fenced if the recorded LEADER_FENCE
        epoch is greater than `epoch`.
        """
        ...

    def close(self) -> None:
        """Release connections (and an in-memory store's temporary blob directory)."""
        ...
