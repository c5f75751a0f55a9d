"""Appendable datasets, as the store keeps them: appends, closing, and a standing job's
outputs joining its output dataset.

An uploaded or registered dataset is open: partitions may be appended to it until it is
closed. A job's output is written by its job alone: a standing job's grows as its outputs
are published and is closed when the job ends; any other job's is closed from the start.
Each change is one write of the dataset document, made after the blob it names is stored,
so a reader sees the partition list before or after an append, never half of it. The
engine's lock serialises the writes (only the leader makes them; a deposed one is fenced),
so concurrent appends land one after the other, in the order they took the lock."""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np

from femto.datasets import Datasets, is_closed
from femto.errors import BadRequest, Conflict, Invalid
from femto.jobs.datasets import load_npy
from femto.store import KeyConflict


def parse_append(body: bytes) -> np.ndarray:
    """The array an append's body holds; BadRequest if it is not a .npy, Invalid if it has
    no axis to append along."""
    try:
        array = load_npy(body)
    except ValueError as exc:
        raise BadRequest(f"body is not a valid .npy file: {exc}", [{"loc": "body"}]) from exc
    if array.ndim == 0:
        raise Invalid("an appended partition needs at least one axis (rows to append)",
                      [{"loc": "body", "msg": "a 0-d array"}])
    return array


def writer(doc: dict[str, Any]) -> str | None:
    """The job whose output the dataset is, if it is one."""
    source = str(doc.get("source", ""))
    return source.removeprefix("job:") if source.startswith("job:") else None


def _check_open(doc: dict[str, Any]) -> None:
    name = doc["name"]
    if is_closed(doc):
        raise Conflict(f"dataset {name!r} is closed: no partition may be appended",
                       [{"loc": "name", "msg": "closed"}])
    job = writer(doc)
    if job is not None:
        raise Conflict(f"dataset {name!r} is the output of job {job}, which alone appends "
                       "to it (and closes it when it ends)",
                       [{"loc": "name", "msg": "a job's output"}])


def _check_fits(doc: dict[str, Any], array: np.ndarray) -> None:
    name = doc["name"]
    if array.dtype.str != doc["dtype"]:
        raise Invalid(f"dtype {array.dtype.str} does not match dataset {name!r}, which holds "
                      f"{doc['dtype']}", [{"loc": "body", "msg": "wrong dtype"}])
    trailing = list(doc["shape"][1:])
    if list(array.shape[1:]) != trailing:
        raise Invalid(f"shape {list(array.shape)} does not fit dataset {name!r}: each row "
                      f"must have shape {trailing} (the dataset is {doc['shape']})",
                      [{"loc": "body", "msg": "wrong trailing shape"}])


def append(datasets: Datasets, name: str, body: bytes, array: np.ndarray,
           index: int | None = None) -> tuple[dict[str, Any], bool]:
    """Append `array` (whose .npy is `body`) as the dataset's next partition; the dataset
    as it is now, and whether this call appended. With `index`, the append must become
    partition `index`: a retry of an append that was stored already (the same bytes at that
    index) changes nothing, and any other index is a Conflict naming the next one. Call with
    the engine's lock held."""
    doc = datasets.get(name)
    parts = doc["partitions"]
    if index is not None and index < len(parts):
        blob = parts[index]["blob"]
        if blob and datasets.store.get_blob(blob) == body:
            return doc, False
        raise Conflict(f"partition {index} of dataset {name!r} exists and holds other data",
                       [{"loc": "index", "msg": f"the next partition is {len(parts)}"}])
    if index is not None and index > len(parts):
        raise Conflict(f"dataset {name!r} has {len(parts)} partitions: the next append is "
                       f"partition {len(parts)}, not {index}",
                       [{"loc": "index", "msg": f"the next partition is {len(parts)}"}])
    _check_open(doc)
    _check_fits(doc, array)
    try:
        datasets.limits.check("partitions", len(parts) + 1)
    except ValueError as exc:
        raise Invalid(f"partitions: {exc}", [{"loc": "partitions", "msg": str(exc)}]) from exc
    blob = f"ds/{uuid.uuid4().hex}/{len(parts)}"
    datasets.store.put_blob(blob, body)  # before the document that names it
    new = {**doc, "shape": [doc["shape"][0] + len(array), *doc["shape"][1:]],
           "partitions": [*parts, {"blob": blob, "uri": None, "host": None,
                                   "length": len(array)}]}
    try:
        datasets.store.put("datasets", name, new)
    except BaseException:
        datasets.store.delete_blob(blob)
        raise
    return new, True


def close(datasets: Datasets, name: str) -> tuple[dict[str, Any], bool]:
    """Close the dataset: no more appends. The dataset, and whether this call closed it (a
    closed one stays as it is)."""
    doc = datasets.get(name)
    if is_closed(doc):
        return doc, False
    job = writer(doc)
    if job is not None:
        raise Conflict(f"dataset {name!r} is the output of job {job}: it is closed when "
                       "that job ends", [{"loc": "name", "msg": "a job's output"}])
    new = {**doc, "closed": True}
    datasets.store.put("datasets", name, new)
    return new, True


def publish_outputs(datasets: Datasets, name: str, job_id: str,
                    outputs: list[tuple[int, str, dict[str, Any]]]
                    ) -> tuple[dict[str, Any], int]:
    """Append a standing job's outputs (partition, blob, its OutputMeta) to its output
    dataset, made with the first; those it holds already (published by a leader that
    stopped before it could say so) are skipped. The dataset, and the index of the first
    partition this call appended. Invalid if they disagree on dtype or row shape, Conflict
    if another wrote a dataset of that name."""
    store = datasets.store
    doc = store.get("datasets", name)
    creating = doc is None
    if doc is None:
        first = outputs[0][2]
        doc = {"name": name, "dtype": first["dtype"], "shape": [0, *first["shape"][1:]],
               "partitions": [], "created": time.time(), "source": f"job:{job_id}",
               "closed": False}
    elif writer(doc) != job_id:
        raise Conflict(f"output dataset {name!r} exists, and job {job_id} did not write it")
    start = len(doc["partitions"])
    parts, rows = list(doc["partitions"]), doc["shape"][0]
    for partition, blob, meta in outputs:
        if partition < len(parts):
            continue
        if partition > len(parts):
            raise Invalid(f"output partition {partition} comes before {len(parts)}")
        if meta["dtype"] != doc["dtype"] or meta["shape"][1:] != doc["shape"][1:]:
            raise Invalid(f"output partition {partition} is {meta['shape']} of "
                          f"{meta['dtype']}; the output holds rows {doc['shape'][1:]} of "
                          f"{doc['dtype']}")
        if not store.has_blob(blob):
            raise Invalid(f"the output of partition {partition} was reported but never "
                          "uploaded")
        parts.append({"blob": blob, "uri": None, "host": None, "length": meta["shape"][0]})
        rows += meta["shape"][0]
    new = {**doc, "shape": [rows, *doc["shape"][1:]], "partitions": parts}
    if creating:
        try:
            store.insert("datasets", name, new)
        except KeyConflict as exc:
            raise Conflict(f"output dataset {name!r} exists") from exc
    elif len(parts) > start:
        store.put("datasets", name, new)
    return new, start


def close_output(datasets: Datasets, name: str, job_id: str) -> dict[str, Any] | None:
    """Close the output dataset of a standing job that ended; None if it made none (or it
    is closed already)."""
    doc = datasets.store.get("datasets", name)
    if doc is None or writer(doc) != job_id or is_closed(doc):
        return None
    new = {**doc, "closed": True}
    datasets.store.put("datasets", name, new)
    return new
