"""The triggers' I/O shell: keeps triggers in the store, watches their directories (on
the leader only) and fires each counted file or dataset once.

Exactly once, across crashes and leader changes: a firing is first recorded in `fired`
(its key: the trigger's id and the file, so a second record of it is refused), then its
dataset registered and its job (or workflow) submitted under ids derived from that key,
then the record marked submitted. A leader that dies anywhere in between leaves a
"recorded" firing, which the next leader carries out again: the registration finds its
own dataset, and the engine answers the resubmission with the job it has already."""

from __future__ import annotations

import functools
import logging
import os
import queue
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from femto.datasets import Datasets
from femto.engine import Engine, Halted
from femto.engine.views import iso
from femto.errors import Conflict, FemtoError, Forbidden, Invalid, NotFound, Unavailable
from femto.events import TriggerEvent
from femto.store import Fenced, StoreUnavailable
from femto.triggers.files import read_header
from femto.triggers.rules import (
    Watch,
    dataset_name,
    fill,
    fired_key,
    firing_id,
    matches,
    parse_trigger,
)
from femto.triggers.watcher import DirectoryWatcher
from femto.workflows.shell import Workflows

log = logging.getLogger(__name__)

TRIGGERS, FIRED = "triggers", "fired"
ACTIVE, PAUSED = "ACTIVE", "PAUSED"
RECORDED, SUBMITTED, FAILED = "recorded", "submitted", "failed"
KEPT_ERRORS = 10  # the latest errors a trigger shows
RESCAN = 10.0  # seconds between rescans: what a missed event or a lost store write left
LOST_LEADER = (Unavailable, Halted, Fenced, StoreUnavailable)


class Triggers:
    def __init__(self, engine: Engine, workflows: Workflows, datasets: Datasets, *,
                 settle: float = 0.5, stall: float = 30.0) -> None:
        self.engine = engine
        self.workflows = workflows
        self.datasets = datasets
        self.store = engine.store
        self.settle, self.stall = settle, stall
        self.lock = threading.RLock()  # trigger documents, written by the API and the worker
        self._done: set[str] = set()  # fired keys carried out (or failed for good)
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue()  # (trigger id, item)
        self._watchers: dict[str, DirectoryWatcher] = {}  # by trigger id
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    # ----- what users call ------------------------------------------------

    def create(self, body: Any, owner: str | None) -> dict[str, Any]:
        spec = parse_trigger(body, self.engine.config.limits)
        if not spec.watch.datasets:
            self._check_directory(spec.watch)
        with self.lock:
            self._check_leading()
            doc = {**spec.document(), "id": str(uuid.uuid4()), "owner": owner,
                   "state": ACTIVE, "created": self.engine.clock(), "last_event": None,
                   "errors": []}
            if not self.store.insert_if_absent(TRIGGERS, spec.name, doc):
                raise Conflict(f"trigger {spec.name!r} exists", [{"loc": "name", "msg": "taken"}])
            self._publish(doc, "created")
            if self._worker is not None:
                self._begin(doc)
        log.info("trigger %s created", spec.name)
        return self.view(doc)

    def get(self, name: str, owner: str | None) -> dict[str, Any]:
        return self.view(self._doc(name, owner))

    def list_triggers(self, owner: str | None) -> list[dict[str, Any]]:
        docs = self.store.find(TRIGGERS, **({} if owner is None else {"owner": owner}))
        return [self.view(d) for d in docs]

    def delete(self, name: str, owner: str | None) -> dict[str, Any]:
        """Stop watching and forget what it fired on (jobs and datasets stay)."""
        with self.lock:
            self._check_leading()
            doc = self._doc(name, owner)
            self._end(doc["id"])
            self.store.delete(TRIGGERS, name)
            self.store.delete_where(FIRED, trigger=doc["id"])
            self._publish(doc, "deleted")
        return self.view(doc)

    def set_paused(self, name: str, owner: str | None, paused: bool) -> dict[str, Any]:
        """A paused trigger fires on nothing; on resuming it fires on what came meanwhile."""
        with self.lock:
            self._check_leading()
            doc = self._doc(name, owner)
            state = PAUSED if paused else ACTIVE
            if doc["state"] != state:
                doc["state"] = state
                self.store.put(TRIGGERS, name, doc)
                self._publish(doc, "paused" if paused else "resumed")
                if not paused and self._worker is not None:
                    self._rescan(doc)
        return self.view(doc)

    def view(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The trigger object of GET /v1/triggers/{name}."""
        last = doc["last_event"]
        return {
            "name": doc["name"], "id": doc["id"], "owner": doc["owner"], "state": doc["state"],
            "watch": doc["watch"], "submit": doc["submit"], "created": iso(doc["created"]),
            "fired": self.store.count(FIRED, trigger=doc["id"], state=SUBMITTED),
            "last_event": None if last is None else {**last, "at": iso(last["at"])},
            "errors": [{**e, "at": iso(e["at"])} for e in doc["errors"]],
        }

    def _doc(self, name: str, owner: str | None) -> dict[str, Any]:
        doc = self.store.get(TRIGGERS, name)
        if doc is None or (owner is not None and doc["owner"] != owner):
            raise NotFound(f"trigger {name!r} not found",
                           [{"loc": "name", "msg": "unknown trigger"}])
        return doc

    def _check_directory(self, watch: Watch) -> None:
        assert watch.directory is not None
        try:
            self.datasets.data_roots.check(Path(watch.directory).as_uri())
        except Forbidden as exc:
            raise Forbidden(exc.message.replace("registering files", "watching directories"),
                            [{"loc": "watch.directory", "msg": d["msg"]}
                             for d in exc.details]) from exc
        if not os.path.isdir(watch.directory):
            raise Invalid(f"watch.directory {watch.directory!r} is not a directory on the "
                          "scheduler", [{"loc": "watch.directory", "msg": "no such directory"}])

    def _check_leading(self) -> None:
        if self.engine.halted:
            raise Unavailable("this scheduler is not the leader; retry against the leader")

    # ----- the leader -----------------------------------------------------

    def start(self) -> None:
        """This scheduler leads: watch every trigger, and fire on what came while no
        leader watched (files, datasets, and firings a dead leader left half done)."""
        with self.lock:
            for fired in self.store.find(FIRED):
                if fired["state"] != RECORDED:
                    self._done.add(fired_key(fired["trigger"], fired["item"]))
            self.datasets.on_created.append(self._dataset_created)
            self._worker = threading.Thread(target=self._work, name="femto-triggers",
                                            daemon=True)
            self._worker.start()
            for doc in self.store.find(TRIGGERS):
                self._begin(doc)

    def halt(self) -> None:
        """Fire nothing more, at once (ZooKeeper's thread calls this: it must not block)."""
        self._stop.set()
        if self._dataset_created in self.datasets.on_created:
            self.datasets.on_created.remove(self._dataset_created)
        for watcher in list(self._watchers.values()):
            watcher.halt()

    def stop(self) -> None:
        """Halt, and wait for the watching threads to end."""
        self.halt()
        for trigger_id in list(self._watchers):
            self._end(trigger_id)
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=10)

    def _begin(self, doc: dict[str, Any]) -> None:
        if "directory" in doc["watch"]:
            watcher = DirectoryWatcher(
                doc["watch"]["directory"], functools.partial(self._counts, doc),
                functools.partial(self._ready, doc["id"]),
                functools.partial(self._error, doc["name"]),
                settle=self.settle, stall=self.stall, rescan=RESCAN)
            self._watchers[doc["id"]] = watcher
            watcher.start()
        self._rescan(doc)

    def _end(self, trigger_id: str) -> None:
        watcher = self._watchers.pop(trigger_id, None)
        if watcher is not None:
            watcher.stop()

    def _ready(self, trigger_id: str, item: str) -> None:
        self._queue.put((trigger_id, item))

    def _counts(self, doc: dict[str, Any], name: str) -> bool:
        """Whether a file of this name may still fire this trigger."""
        return matches(_watch(doc), name) and fired_key(doc["id"], name) not in self._done

    def _rescan(self, doc: dict[str, Any]) -> None:
        """Queue what this trigger has yet to fire on: firings a leader left recorded,
        matching datasets; a directory's files its watcher looks at itself."""
        for fired in self.store.find(FIRED, trigger=doc["id"], state=RECORDED):
            self._queue.put((doc["id"], fired["item"]))
        if "datasets" in doc["watch"]:
            for dataset in self.store.find("datasets"):
                if self._counts(doc, dataset["name"]):
                    self._queue.put((doc["id"], dataset["name"]))
        else:
            watcher = self._watchers.get(doc["id"])
            if watcher is not None:
                watcher.rescan_soon()

    def _dataset_created(self, dataset: dict[str, Any]) -> None:
        for doc in self.store.find(TRIGGERS):
            if "datasets" in doc["watch"] and self._counts(doc, dataset["name"]):
                self._queue.put((doc["id"], dataset["name"]))

    def _work(self) -> None:
        """The one thread that fires, so that a file queued twice fires once."""
        rescanned = time.monotonic()
        while not self._stop.is_set():
            try:
                trigger_id, item = self._queue.get(timeout=0.25)
            except queue.Empty:
                if time.monotonic() - rescanned > RESCAN:
                    rescanned = time.monotonic()
                    self._rescan_all()
                continue
            try:
                self._fire(trigger_id, item)
            except LOST_LEADER:
                log.info("trigger firing stopped: not the leader (or the store is away)")
            except Exception:  # the worker must outlive one bad firing; the rescan retries
                log.exception("trigger %s: firing on %s failed", trigger_id, item)

    def _rescan_all(self) -> None:
        try:
            for doc in self.store.find(TRIGGERS):
                if doc["state"] == ACTIVE:
                    self._rescan(doc)
        except LOST_LEADER:
            pass

    # ----- firing ---------------------------------------------------------

    def _fire(self, trigger_id: str, item: str) -> None:
        key = fired_key(trigger_id, item)
        if key in self._done or self._stop.is_set():
            return
        doc = next(iter(self.store.find(TRIGGERS, id=trigger_id)), None)
        if doc is None or doc["state"] != ACTIVE:
            return  # deleted, or paused: resuming rescans
        watch = _watch(doc)
        if watch.datasets and self._own_output(doc, item):
            self._done.add(key)
            return
        record = self.store.get(FIRED, key)
        if record is None:
            record = {"trigger": trigger_id, "item": item, "state": RECORDED,
                      "id": firing_id(trigger_id, item),
                      "dataset": item if watch.datasets else dataset_name(
                          doc["name"], trigger_id, item),
                      "at": self.engine.clock(), "error": None}
            if not self.store.insert_if_absent(FIRED, key, record):
                record = self.store.get(FIRED, key) or record
        if record["state"] != RECORDED:
            self._done.add(key)
            return
        try:
            if not watch.datasets:
                self._register(watch, item, record["dataset"])
            self._submit(doc, record)
        except LOST_LEADER:
            raise
        except FemtoError as exc:
            told = "; ".join(f"{d.get('loc')}: {d.get('msg')}" for d in exc.details
                             if d.get("msg") and str(d.get("msg")) not in exc.message)
            record = {**record, "state": FAILED,
                      "error": exc.message + (f" ({told})" if told else "")}
            self.store.put(FIRED, key, record)
            self._done.add(key)
            self._error(doc["name"], item, record["error"])
            self._publish(doc, "failed", record)
            return
        record = {**record, "state": SUBMITTED}
        self.store.put(FIRED, key, record)
        self._done.add(key)
        with self.lock:
            current = self.store.get(TRIGGERS, doc["name"])
            if current is not None and current["id"] == trigger_id:
                current["last_event"] = {
                    "at": self.engine.clock(), "item": item, "dataset": record["dataset"],
                    ("workflow" if _is_workflow(doc) else "job"): record["id"]}
                self.store.put(TRIGGERS, doc["name"], current)
        self._publish(doc, "fired", record)
        log.info("trigger %s fired on %s: %s", doc["name"], item, record["id"])

    def _own_output(self, doc: dict[str, Any], dataset: str) -> bool:
        """A dataset this trigger's own job wrote: firing on it would loop forever."""
        found = self.store.get("datasets", dataset)
        source = found.get("source", "") if found else ""
        return source.startswith("job:") and any(
            source == f"job:{f['id']}" for f in self.store.find(FIRED, trigger=doc["id"]))

    def _register(self, watch: Watch, file: str, name: str) -> None:
        """The fired file as a dataset, where it lies (on `host`, by default this
        scheduler's, which sees the file); one this firing registered before
        (a leader that died after registering) is taken as it is."""
        assert watch.directory is not None
        uri = Path(watch.directory, file).as_uri()
        existing = self.store.get("datasets", name)
        if existing is not None:
            if any(p.get("uri") == uri for p in existing["partitions"]):
                return
            raise Conflict(f"dataset {name!r} exists, and is not {uri}")
        header = read_header(str(Path(watch.directory, file)))
        if header is None:
            raise Invalid(f"{uri} is no longer a valid .npy")
        # Up to `partitions` row ranges: a file of fewer rows gets one each.
        partitions = max(1, min(watch.partitions, header.shape[0]))
        self.datasets.register_array(name, "npy", uri, partitions,
                                     host=watch.host or socket.gethostname())

    def _submit(self, doc: dict[str, Any], record: dict[str, Any]) -> None:
        body = fill(doc["submit"], record["dataset"], record["id"])
        if _is_workflow(doc):
            self.workflows.submit(body, doc["owner"])
        else:
            self.engine.submit(body, doc["owner"])

    def _error(self, name: str, item: str | None, message: str) -> None:
        with self.lock:
            current = self.store.get(TRIGGERS, name)
            if current is None:
                return
            current["errors"] = [*current["errors"], {
                "at": self.engine.clock(), "item": item, "error": message}][-KEPT_ERRORS:]
            self.store.put(TRIGGERS, name, current)
        log.warning("trigger %s: %s%s", name, f"{item}: " if item else "", message)

    def _publish(self, doc: dict[str, Any], state: str,
                 record: dict[str, Any] | None = None) -> None:
        fields: dict[str, Any] = {}
        if record is not None:
            fields = {"item": record["item"], "dataset": record["dataset"],
                      "error": record["error"],
                      ("workflow" if _is_workflow(doc) else "job"): record["id"]}
        event = TriggerEvent(trigger=doc["name"], state=state, **fields)
        # Filed under the job it submitted, so that following that job shows its cause.
        self.engine.events.publish([(event, fields.get("job") or f"trigger:{doc['name']}",
                                     doc["owner"])])


def _watch(doc: dict[str, Any]) -> Watch:
    watch = doc["watch"]
    if "datasets" in watch:
        return Watch(None, watch["datasets"])
    return Watch(watch["directory"], watch["pattern"], watch["host"], watch["partitions"])


def _is_workflow(doc: dict[str, Any]) -> bool:
    return "steps" in doc["submit"]


