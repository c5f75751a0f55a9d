"""SQLite backend: one file for documents, plain `.npy` files for blobs.

The engine calls from several threads; one connection guarded by a lock
serialises them. SQLite admits one writer at a time anyway, and batching
(`put_many`) is what makes writes cheap, not parallelism. WAL with
`synchronous=NORMAL` keeps commits to one fsync-free append: a power cut may
lose the last transactions but never corrupts the database.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from femto.store.base import (
    COLLECTIONS,
    INDEXED_FIELDS,
    LEADER_FENCE,
    Fenced,
    KeyConflict,
    StoreError,
    StoreUnavailable,
)
from femto.store.checks import (
    check_collection,
    check_epoch,
    check_equals,
    check_key,
    decode_doc,
    encode_doc,
)

log = logging.getLogger(__name__)

# SQLite result codes that mean "the database cannot be used right now"
# rather than "this statement is wrong".
_UNAVAILABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_FULL")
_BUSY_TIMEOUT_S = 5.0
# File names are limited to 255 bytes; longer keys get a hashed name.
_MAX_FILE_STEM = 200


def schema(collection: str) -> list[str]:
    """DDL for one collection: the JSON document plus indexed generated columns."""
    fields = INDEXED_FIELDS[collection]
    columns = "".join(
        f", {field} GENERATED ALWAYS AS (json_extract(doc, '$.{field}')) VIRTUAL"
        for field in fields
    )
    statements = [
        f"CREATE TABLE IF NOT EXISTS {collection} (key TEXT PRIMARY KEY, doc TEXT NOT NULL"
        f"{columns})"
    ]
    statements += [
        f"CREATE INDEX IF NOT EXISTS {collection}_{field} ON {collection}({field})"
        for field in fields
    ]
    return statements


def where_clause(collection: str, equals: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """SQL for equality on top-level fields, with MongoDB's semantics.

    None matches a null or missing field. A value matches only a field of
    the same JSON type (SQLite alone would equate true with 1 and the string
    "[1]" with an array). Indexed fields compare through their column so the
    index serves the query.
    """
    clauses: list[str] = []
    params: list[Any] = []
    for field, value in check_equals(equals).items():
        path = f"$.{field}"
        if isinstance(value, bool):
            clauses.append("json_type(doc, ?) = ?")
            params += [path, "true" if value else "false"]
            continue
        if field in INDEXED_FIELDS[collection]:
            expr = field
        else:
            expr = "json_extract(doc, ?)"
            params.append(path)
        if value is None:
            clauses.append(f"{expr} IS NULL")
        elif isinstance(value, str) and field in INDEXED_FIELDS[collection]:
            # A column without affinity equals a string only if it holds text, and JSON
            # gives text only for strings (arrays and objects are not filtered on): no
            # type check, so a count or page by state reads the index alone, not each doc.
            clauses.append(f"{expr} = ?")
            params.append(value)
        else:
            types = "('text')" if isinstance(value, str) else "('integer', 'real')"
            clauses.append(f"{expr} = ? AND json_type(doc, ?) IN {types}")
            params += [value, path]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


@contextmanager
def _translated(context: str) -> Iterator[None]:
    """Turn sqlite3 and file-system errors into store errors."""
    try:
        yield
    except sqlite3.Error as exc:
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(_UNAVAILABLE):
            raise StoreUnavailable(f"sqlite {context}: {exc}") from exc
        raise StoreError(f"sqlite {context}: {exc}") from exc
    except OSError as exc:
        raise StoreUnavailable(f"sqlite {context}: {exc}") from exc


class SqliteStore:
    """A `Store` in one SQLite file (or `":memory:"`), blobs under `<db dir>/blobs/`.

    A write waiting longer than `busy_timeout` seconds for another
    connection's write lock raises StoreUnavailable. An in-memory store keeps
    its blobs in a temporary directory removed by `close()`. Fencing is
    exact: the epoch check and the write share one `BEGIN IMMEDIATE`
    transaction, so no write of a deposed leader lands once `set_fence` has
    committed a newer epoch (also across several store objects or processes
    on the same file).
    """

    def __init__(self, path: str, *, busy_timeout: float = _BUSY_TIMEOUT_S) -> None:
        self._lock = threading.RLock()  # re-entered by the writes of a batch
        self._batch_depth = 0
        self._epoch: int | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        with _translated(f"open {path}"):
            if path == ":memory:":
                self._tmpdir = tempfile.TemporaryDirectory(prefix="femto-blobs-")
                self._blob_dir = Path(self._tmpdir.name)
            else:
                db = Path(path).absolute()
                path = str(db)
                self._blob_dir = db.parent / "blobs"
                self._blob_dir.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            try:
                self._create_schema()
            except BaseException:
                self.close()
                raise
        log.debug("opened sqlite store %s (blobs in %s)", path, self._blob_dir)

    def _create_schema(self) -> None:
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._transaction(check_fence=False) as conn:
            for collection in COLLECTIONS:
                for statement in schema(collection):
                    conn.execute(statement)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS fences (name TEXT PRIMARY KEY, epoch INTEGER NOT NULL)"
            )

    # -- documents ---------------------------------------------------------

    def insert(self, collection: str, key: str, doc: Mapping[str, Any]) -> None:
        table, row = check_collection(collection), (check_key(key), encode_doc(doc))
        with self._transaction() as conn:
            try:
                conn.execute(f"INSERT INTO {table} (key, doc) VALUES (?, ?)", row)
            except sqlite3.IntegrityError:
                raise KeyConflict(f"{collection}/{key} already exists") from None

    def insert_if_absent(self, collection: str, key: str, doc: Mapping[str, Any]) -> bool:
        table, text = check_collection(collection), encode_doc(doc)
        with self._transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO {table} (key, doc) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (check_key(key), text),
            )
            return cursor.rowcount == 1

    def put(self, collection: str, key: str, doc: Mapping[str, Any]) -> None:
        self.put_many(collection, {key: doc})

    def put_many(self, collection: str, docs: Mapping[str, Mapping[str, Any]]) -> None:
        table = check_collection(collection)
        rows = [(check_key(key), encode_doc(doc)) for key, doc in docs.items()]
        if not rows:
            return
        with self._transaction() as conn:
            conn.executemany(
                f"INSERT INTO {table} (key, doc) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc",
                rows,
            )

    def get(self, collection: str, key: str) -> dict[str, Any] | None:
        table = check_collection(collection)
        with self._lock, _translated("get"):
            row = self._conn.execute(
                f"SELECT doc FROM {table} WHERE key = ?", (check_key(key),)
            ).fetchone()
        return None if row is None else decode_doc(row[0])

    def find(self, collection: str, **equals: Any) -> list[dict[str, Any]]:
        table = check_collection(collection)
        where, params = where_clause(table, equals)
        with self._lock, _translated("find"):
            rows = self._conn.execute(
                f"SELECT doc FROM {table}{where} ORDER BY rowid", params
            ).fetchall()
        return [decode_doc(row[0]) for row in rows]

    def find_newest(
        self, collection: str, limit: int, before: int | None = None, **equals: Any
    ) -> tuple[list[dict[str, Any]], int | None]:
        table = check_collection(collection)
        where, params = where_clause(table, equals)
        if before is not None:
            where += (" AND" if where else " WHERE") + " rowid < ?"
            params.append(before)
        with self._lock, _translated("find_newest"):
            rows = self._conn.execute(
                f"SELECT rowid, doc FROM {table}{where} ORDER BY rowid DESC LIMIT ?",
                [*params, limit + 1],
            ).fetchall()
        following = rows[limit - 1][0] if len(rows) > limit else None
        return [decode_doc(row[1]) for row in rows[:limit]], following

    def count(self, collection: str, **equals: Any) -> int:
        table = check_collection(collection)
        where, params = where_clause(table, equals)
        with self._lock, _translated("count"):
            (n,) = self._conn.execute(f"SELECT count(*) FROM {table}{where}", params).fetchone()
        return int(n)

    def delete(self, collection: str, key: str) -> bool:
        table = check_collection(collection)
        with self._transaction() as conn:
            cursor = conn.execute(f"DELETE FROM {table} WHERE key = ?", (check_key(key),))
            return cursor.rowcount == 1

    def delete_where(self, collection: str, **equals: Any) -> int:
        table = check_collection(collection)
        where, params = where_clause(table, equals)
        with self._transaction() as conn:
            return conn.execute(f"DELETE FROM {table}{where}", params).rowcount

    # -- blobs -------------------------------------------------------------

    def put_blob(self, key: str, data: bytes) -> None:
        target = self._blob_file(key)
        with _translated(f"put_blob {key}"):
            fd, tmp = tempfile.mkstemp(dir=self._blob_dir, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    # The rename must never expose a file whose data is not on disk yet.
                    os.fsync(out.fileno())
                with self._transaction():
                    os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)

    def get_blob(self, key: str) -> bytes:
        target = self._blob_file(key)
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None
        except OSError as exc:
            raise StoreUnavailable(f"sqlite get_blob {key}: {exc}") from exc

    def has_blob(self, key: str) -> bool:
        return self.blob_path(key) is not None

    def blob_path(self, key: str) -> str | None:
        target = self._blob_file(key)
        return str(target) if target.is_file() else None

    def open_blob(self, key: str) -> IO[bytes]:
        try:
            return self._blob_file(key).open("rb")
        except FileNotFoundError:
            raise KeyError(key) from None
        except OSError as exc:
            raise StoreUnavailable(f"sqlite open_blob {key}: {exc}") from exc

    def delete_blob(self, key: str) -> bool:
        target = self._blob_file(key)
        with self._transaction():
            try:
                target.unlink()
            except FileNotFoundError:
                return False
            return True

    def _blob_file(self, key: str) -> Path:
        name = quote(check_key(key), safe="")
        if len(name) > _MAX_FILE_STEM:
            # A quoted key never contains a bare "#", so hashed names cannot
            # collide with readable ones.
            name = "#" + hashlib.sha256(key.encode()).hexdigest()
        return self._blob_dir / f"{name}.npy"

    # -- fencing -----------------------------------------------------------

    def set_fence(self, name: str, epoch: int) -> None:
        check_key(name)
        check_epoch(epoch)
        with self._transaction(check_fence=False) as conn:
            row = conn.execute("SELECT epoch FROM fences WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] > epoch:
                raise Fenced(f"fence {name!r} is at epoch {row[0]}, newer than {epoch}")
            conn.execute(
                "INSERT INTO fences (name, epoch) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch",
                (name, epoch),
            )

    def fence(self, epoch: int | None) -> None:
        self._epoch = None if epoch is None else check_epoch(epoch)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """The writes inside share one transaction, committed on leaving (rolled back if
        it raises). The store lock is held throughout: other threads' reads wait."""
        with self._lock:
            self._batch_depth += 1
            try:
                yield
            except BaseException:
                if self._batch_depth == 1 and self._conn.in_transaction:
                    with _translated("rollback"):
                        self._conn.execute("ROLLBACK")
                raise
            else:
                if self._batch_depth == 1 and self._conn.in_transaction:
                    with _translated("commit"):
                        self._conn.execute("COMMIT")
            finally:
                self._batch_depth -= 1

    @contextmanager
    def _transaction(self, check_fence: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock, checking the leader fence first; inside a
        batch, the batch's transaction (fenced when its first write began it)."""
        with self._lock, _translated("write"):
            conn = self._conn
            if self._batch_depth and conn.in_transaction:
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")  # a failed write fails the whole batch
                    raise
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                if check_fence and self._epoch is not None:
                    row = conn.execute(
                        "SELECT epoch FROM fences WHERE name = ?", (LEADER_FENCE,)
                    ).fetchone()
                    if row is not None and row[0] > self._epoch:
                        raise Fenced(
                            f"leader epoch {row[0]} supersedes this store's epoch {self._epoch}"
                        )
                yield conn
                if not self._batch_depth:
                    conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
