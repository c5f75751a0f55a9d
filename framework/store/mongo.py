"""MongoDB backend: one collection per logical collection, blobs in GridFS.

Works against a standalone server (no transactions). A document is stored
as `{"_id": key, "_seq": n, "d": doc}`: nesting keeps the engine's fields
apart from ours, and `_seq` (a per-process monotonic nanosecond clock, set
on first insert) gives `find` its insertion order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import IO, Any, cast
from urllib.parse import parse_qsl, urlsplit

import gridfs
import pymongo
from gridfs.errors import CorruptGridFile, NoFile
from pymongo.errors import ConfigurationError, ConnectionFailure, DuplicateKeyError, PyMongoError

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
    redacted,
)

log = logging.getLogger(__name__)

# Fail fast when the server is unreachable, so the API can answer 503 within a second
# (a server that is up is selected at once: this only bounds the wait for one to appear);
# the socket timeout is longer because a blob can be hundreds of MB.
DEFAULT_OPTIONS: dict[str, Any] = {
    "serverSelectionTimeoutMS": 500,
    "connectTimeoutMS": 3000,
    "socketTimeoutMS": 60000,
}
PROBE_INTERVAL = 0.5  # seconds between pings of an unreachable server
FENCES = "fences"
BLOB_BUCKET = "blobs"
# Prefix of blobs still being uploaded (left behind only by a crash mid-upload).
UPLOADING = "\x00uploading/"
# A reader racing a replacement may find the version it chose already
# removed; it then retries with the newest version.
_BLOB_READ_ATTEMPTS = 5


class _SequenceClock:
    """Strictly increasing integers close to wall-clock nanoseconds.

    Wall-clock based so that documents inserted by a later leader (another
    process) sort after those of an earlier one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def reserve(self, count: int) -> int:
        """The first of `count` consecutive fresh values."""
        with self._lock:
            first = max(self._last + 1, time.time_ns())
            self._last = first + count - 1
            return first


class _Breaker:
    """Once the server is found unreachable, every call fails at once while one thread
    pings it in the background, until it answers again. Without it each call waited out
    the server selection timeout in turn, some of them holding the engine lock, so an API
    request queued behind several of them (a 503 took 9-12 s)."""

    def __init__(self, ping: Callable[[], object], interval: float = PROBE_INTERVAL) -> None:
        self._ping = ping
        self._interval = interval
        self._down: str | None = None  # why, while the server does not answer
        self.reached = False  # whether any call has got through yet
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def check(self, context: str) -> None:
        down = self._down
        if down is not None:
            raise StoreUnavailable(f"mongodb {context}: unreachable ({down}); failing fast "
                                   "until it answers again")

    def trip(self, reason: str) -> None:
        with self._lock:
            if self._down is not None or self._closed.is_set():
                return
            self._down = reason
        # Never reached (a wrong URL at start-up): the caller's own error says it all.
        log.log(logging.WARNING if self.reached else logging.DEBUG,
                "mongodb unreachable (%s): failing fast until a ping answers", reason)
        threading.Thread(target=self._probe, name="mongodb-probe", daemon=True).start()

    def _probe(self) -> None:
        while not self._closed.wait(self._interval):
            try:
                self._ping()
            except PyMongoError:
                continue
            self._down = None
            log.warning("mongodb answers again")
            return

    def close(self) -> None:
        self._closed.set()


def client_options(url: str) -> dict[str, Any]:
    """Our timeout defaults for whatever the URL does not set itself."""
    given = {name.lower() for name, _ in parse_qsl(urlsplit(url).query)}
    return {name: value for name, value in DEFAULT_OPTIONS.items() if name.lower() not in given}


def mongo_filter(equals: Mapping[str, Any]) -> dict[str, Any]:
    return {f"d.{field}": value for field, value in check_equals(equals).items()}


def _reason(exc: ConnectionFailure) -> str:
    """Why the server could not be reached, without the topology description and timeouts
    that pymongo appends to a server selection's failure (a screenful for one cause)."""
    return str(exc).split(" (configured timeouts")[0].split(", Timeout: ")[0]


class MongoStore:
    """A `Store` on MongoDB; the database is the URL's path, or "femto".

    Fencing has a race window. Each write batch first reads the leader epoch
    (one small document in the `fences` collection) and then writes; a
    standalone server has no transaction to join the two. So after a new
    leader's `set_fence`, each thread of the deposed leader can still land
    the one batch whose check had already passed: normally within a round
    trip, at worst when its connection times out. Fencing stops a deposed
    leader from going on writing; exactly-once results do not rest on it
    (partials are written with `insert_if_absent`), and losing its ZooKeeper
    session stops the old leader first in the common case.
    """

    def __init__(self, url: str) -> None:
        try:
            self._client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
                url, **client_options(url)
            )
            self._db = self._client.get_default_database("femto")
        except (ConfigurationError, ValueError) as exc:
            raise ValueError(f"bad MongoDB URL {redacted(url)!r}: {exc}") from exc
        self._breaker = _Breaker(lambda: self._client.admin.command("ping"))
        self._blobs = gridfs.GridFSBucket(self._db, bucket_name=BLOB_BUCKET)
        self._blob_files = self._db[f"{BLOB_BUCKET}.files"]
        self._fences = self._db[FENCES]
        self._seq = _SequenceClock()
        self._epoch: int | None = None
        try:
            self._create_indexes()
        except StoreError:
            self.close()
            raise
        log.debug("opened mongodb store %s", self._db.name)

    def _create_indexes(self) -> None:
        with self._translated("create indexes"):
            for collection in COLLECTIONS:
                self._db[collection].create_index("_seq")
                for field in INDEXED_FIELDS[collection]:
                    self._db[collection].create_index([(f"d.{field}", 1), ("_seq", 1)])
            self._blob_files.create_index([("filename", 1), ("uploadDate", 1)])

    # -- documents ---------------------------------------------------------

    def insert(self, collection: str, key: str, doc: Mapping[str, Any]) -> None:
        if not self._insert(collection, key, doc):
            raise KeyConflict(f"{collection}/{key} already exists")

    def insert_if_absent(self, collection: str, key: str, doc: Mapping[str, Any]) -> bool:
        return self._insert(collection, key, doc)

    def _insert(self, collection: str, key: str, doc: Mapping[str, Any]) -> bool:
        coll = self._db[check_collection(collection)]
        record = {"_id": check_key(key), "_seq": self._seq.reserve(1), "d": _normalised(doc)}
        with self._translated(f"insert {collection}/{key}"):
            self._check_fence()
            try:
                coll.insert_one(record)
            except DuplicateKeyError:
                return False
        return True

    def put(self, collection: str, key: str, doc: Mapping[str, Any]) -> None:
        self.put_many(collection, {key: doc})

    def put_many(self, collection: str, docs: Mapping[str, Mapping[str, Any]]) -> None:
        coll = self._db[check_collection(collection)]
        if not docs:
            return
        first = self._seq.reserve(len(docs))
        ops = [
            pymongo.UpdateOne(
                {"_id": check_key(key)},
                {"$set": {"d": _normalised(doc)}, "$setOnInsert": {"_seq": first + i}},
                upsert=True,
            )
            for i, (key, doc) in enumerate(docs.items())
        ]
        with self._translated(f"put_many {collection}"):
            self._check_fence()
            coll.bulk_write(ops, ordered=True)

    def get(self, collection: str, key: str) -> dict[str, Any] | None:
        coll = self._db[check_collection(collection)]
        with self._translated(f"get {collection}/{key}"):
            record = coll.find_one({"_id": check_key(key)}, {"d": 1})
        return None if record is None else dict(record["d"])

    def find(self, collection: str, **equals: Any) -> list[dict[str, Any]]:
        coll = self._db[check_collection(collection)]
        query = mongo_filter(equals)
        with self._translated(f"find {collection}"):
            return [dict(r["d"]) for r in coll.find(query, {"d": 1, "_id": 0}).sort("_seq", 1)]

    def find_newest(
        self, collection: str, limit: int, before: int | None = None, **equals: Any
    ) -> tuple[list[dict[str, Any]], int | None]:
        coll = self._db[check_collection(collection)]
        query = mongo_filter(equals)
        if before is not None:
            query["_seq"] = {"$lt": before}
        with self._translated(f"find_newest {collection}"):
            records = list(coll.find(query, {"d": 1, "_seq": 1, "_id": 0})
                           .sort("_seq", -1).limit(limit + 1))
        following = int(records[limit - 1]["_seq"]) if len(records) > limit else None
        return [dict(r["d"]) for r in records[:limit]], following

    def count(self, collection: str, **equals: Any) -> int:
        coll = self._db[check_collection(collection)]
        with self._translated(f"count {collection}"):
            return int(coll.count_documents(mongo_filter(equals)))

    def delete(self, collection: str, key: str) -> bool:
        coll = self._db[check_collection(collection)]
        with self._translated(f"delete {collection}/{key}"):
            self._check_fence()
            return coll.delete_one({"_id": check_key(key)}).deleted_count == 1

    def delete_where(self, collection: str, **equals: Any) -> int:
        coll = self._db[check_collection(collection)]
        query = mongo_filter(equals)
        with self._translated(f"delete_where {collection}"):
            self._check_fence()
            return coll.delete_many(query).deleted_count

    # -- blobs -------------------------------------------------------------
    # A blob is the newest GridFS file named by its key (by upload date, then
    # id). The file document is written after all its chunks, so a reader
    # sees the old version or the whole new one; older versions are removed
    # once the new one is in place.

    def put_blob(self, key: str, data: bytes) -> None:
        check_key(key)
        with self._translated(f"put_blob {key}"):
            self._check_fence()
            # Upload under a name no reader looks for, then check the fence
            # again and rename: a long upload does not widen the fencing race.
            file_id = self._blobs.upload_from_stream(UPLOADING + key, data)
            try:
                self._check_fence()
            except Fenced:
                self._blobs.delete(file_id)
                raise
            self._blobs.rename(file_id, key)
            self._remove_versions(key, keep_newest=True)

    def get_blob(self, key: str) -> bytes:
        check_key(key)
        with self._translated(f"get_blob {key}"):
            for _ in range(_BLOB_READ_ATTEMPTS):
                try:
                    return bytes(self._blobs.open_download_stream(self._newest(key)).read())
                except (NoFile, CorruptGridFile):
                    log.debug("blob %s replaced while reading; retrying", key)
        raise StoreError(f"blob {key!r} kept changing during {_BLOB_READ_ATTEMPTS} reads")

    def open_blob(self, key: str) -> IO[bytes]:
        # GridFS reads the chunks a seek lands on, so a reader of some rows of an HDF5
        # blob fetches those and the file's metadata, not the whole blob.
        check_key(key)
        with self._translated(f"open_blob {key}"):
            return cast(IO[bytes], self._blobs.open_download_stream(self._newest(key)))

    def _newest(self, key: str) -> Any:
        """The id of the blob's newest complete version; KeyError if it has none."""
        newest = self._blob_files.find_one(
            {"filename": key}, {"_id": 1}, sort=[("uploadDate", -1), ("_id", -1)])
        if newest is None:
            raise KeyError(key)
        return newest["_id"]

    def has_blob(self, key: str) -> bool:
        check_key(key)
        with self._translated(f"has_blob {key}"):
            return self._blob_files.find_one({"filename": key}, {"_id": 1}) is not None

    def blob_path(self, key: str) -> str | None:
        check_key(key)
        return None

    def delete_blob(self, key: str) -> bool:
        check_key(key)
        with self._translated(f"delete_blob {key}"):
            self._check_fence()
            return self._remove_versions(key, keep_newest=False) > 0

    def _remove_versions(self, key: str, keep_newest: bool) -> int:
        versions = self._blob_files.find(
            {"filename": key}, {"_id": 1}, sort=[("uploadDate", -1), ("_id", -1)]
        )
        removed = 0
        for version in list(versions)[1 if keep_newest else 0 :]:
            try:
                self._blobs.delete(version["_id"])
                removed += 1
            except NoFile:
                # A concurrent writer or deleter removed it first.
                continue
        return removed

    # -- fencing -----------------------------------------------------------

    def set_fence(self, name: str, epoch: int) -> None:
        check_key(name)
        check_epoch(epoch)
        with self._translated(f"set_fence {name}"):
            try:
                # Matches only when the stored epoch is not newer; otherwise the
                # upsert collides with the existing _id, atomically.
                self._fences.update_one(
                    {"_id": name, "epoch": {"$lte": epoch}}, {"$set": {"epoch": epoch}}, upsert=True
                )
            except DuplicateKeyError:
                current = self._fences.find_one({"_id": name}) or {}
                raise Fenced(
                    f"fence {name!r} is at epoch {current.get('epoch')}, newer than {epoch}"
                ) from None

    def batch(self) -> AbstractContextManager[None]:
        # Multi-document transactions need a replica set; each write stands alone here.
        return nullcontext()

    def fence(self, epoch: int | None) -> None:
        self._epoch = None if epoch is None else check_epoch(epoch)

    def _check_fence(self) -> None:
        epoch = self._epoch
        if epoch is None:
            return
        current = self._fences.find_one({"_id": LEADER_FENCE})
        if current is not None and current["epoch"] > epoch:
            raise Fenced(f"leader epoch {current['epoch']} supersedes this store's epoch {epoch}")

    @contextmanager
    def _translated(self, context: str) -> Iterator[None]:
        """Pymongo errors as store errors; fails at once while the server is unreachable."""
        self._breaker.check(context)
        try:
            yield
            self._breaker.reached = True
        except ConnectionFailure as exc:
            reason = _reason(exc)
            self._breaker.trip(reason)
            raise StoreUnavailable(f"mongodb {context}: {reason}") from exc
        except PyMongoError as exc:
            raise StoreError(f"mongodb {context}: {exc}") from exc

    def close(self) -> None:
        self._breaker.close()
        self._client.close()


def _normalised(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document as JSON would give it back, so both backends store the same."""
    return decode_doc(encode_doc(doc))
