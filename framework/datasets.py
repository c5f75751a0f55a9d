"""Datasets: uploaded and split, registered where they lie, or written by jobs."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from femto.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    error_details,
)
from femto.jobs.arrays import (
    HDF5_ARRAY,
    ArrayError,
    ArrayInfo,
    MissingExtra,
    inspect,
    read_hdf5_rows,
    read_rows,
    row_ranges,
    write_hdf5,
)
from femto.jobs.datasets import (
    RegisterArray,
    RegisterDataset,
    file_uri_path,
    load_npy,
    npy_bytes,
    split,
)
from femto.jobs.limits import Limits
from femto.jobs.names import NAME_PATTERN
from femto.store import KeyConflict, Store

DEFAULT_PARTITIONS = 8


def check_name(name: str) -> None:
    if not re.fullmatch(NAME_PATTERN, name):
        raise Invalid(
            f"dataset name {name!r} must match {NAME_PATTERN}",
            [{"loc": "name", "msg": "invalid dataset name"}],
        )


def is_closed(doc: dict[str, Any]) -> bool:
    """Whether partitions may still be appended (femto.streams). A dataset stored before
    streams has no flag: a job's output was complete, an upload or registration is open."""
    closed = doc.get("closed")
    if closed is None:
        return str(doc.get("source", "")).startswith("job:")
    return bool(closed)


class DataRoots:
    """The directories an operator allows datasets to be registered from (`--data-root`).
    None by default: a client must never make the scheduler or an agent read /etc/shadow."""

    def __init__(self, roots: list[Path] | tuple[Path, ...] = ()) -> None:
        self.roots = tuple(Path(os.path.realpath(root)) for root in roots)

    def check(self, uri: str) -> Path:
        """The path a partition URI names, resolved (symlinks included, where they exist
        on this host), if it lies under an allowed root; else Forbidden naming the flag."""
        path = Path(os.path.realpath(file_uri_path(uri)))
        if not self.roots:
            raise Forbidden(
                f"registering files is disabled: the operator allows no directory "
                f"(femto serve --data-root DIR), so {uri!r} is refused",
                [{"loc": "partitions.uri", "msg": "no --data-root is allowed"}])
        if not any(path.is_relative_to(root) for root in self.roots):
            raise Forbidden(
                f"{uri!r} lies outside every --data-root "
                f"({', '.join(str(r) for r in self.roots)})",
                [{"loc": "partitions.uri", "msg": "outside the allowed --data-root"}])
        return path


class Datasets:
    def __init__(self, store: Store, data_roots: DataRoots | None = None,
                 limits: Limits | None = None) -> None:
        self.store = store
        self.data_roots = data_roots or DataRoots()
        self.limits = limits or Limits()
        # Called with each new dataset's document (the triggers watching dataset names);
        # each must only take note, as a caller may hold the engine lock.
        self.on_created: list[Callable[[dict[str, Any]], None]] = []

    def _check_partitions(self, count: int) -> None:
        try:
            self.limits.check("partitions", count)
        except ValueError as exc:
            raise Invalid(f"partitions: {exc}", [{"loc": "partitions", "msg": str(exc)}]) from exc

    def get(self, name: str) -> dict[str, Any]:
        doc = self.store.get("datasets", name)
        if doc is None:
            raise NotFound(f"dataset {name!r} not found", [{"loc": "name", "msg": "unknown"}])
        return doc

    def all(self) -> list[dict[str, Any]]:
        return self.store.find("datasets")

    @staticmethod
    def view(doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": doc["name"], "dtype": doc["dtype"], "shape": doc["shape"],
            "partitions": len(doc["partitions"]), "closed": is_closed(doc),
        }

    def upload(self, name: str, body: bytes, partitions: int | None) -> dict[str, Any]:
        """Split an uploaded .npy into `partitions` (default: up to 8) along axis 0."""
        check_name(name)
        if partitions is not None and partitions < 1:
            raise Invalid(
                "partitions must be at least 1", [{"loc": "partitions", "msg": "must be >= 1"}]
            )
        if partitions is not None:
            self._check_partitions(partitions)
        if self.store.get("datasets", name) is not None:
            raise Conflict(f"dataset {name!r} exists", [{"loc": "name", "msg": "taken"}])
        try:
            array = load_npy(body)
        except ValueError as exc:
            raise BadRequest(f"body is not a valid .npy file: {exc}", [{"loc": "body"}]) from exc
        if array.ndim == 0:
            raise Invalid("a dataset needs at least one axis", [{"loc": "body"}])
        if partitions is None:
            partitions = min(DEFAULT_PARTITIONS, max(1, len(array)))
        try:
            parts = split(array, partitions)
        except ValueError as exc:
            raise Invalid(str(exc), [{"loc": "partitions", "msg": str(exc)}]) from exc
        prefix = f"ds/{uuid.uuid4().hex}"
        refs = []
        for i, part in enumerate(parts):
            self.store.put_blob(f"{prefix}/{i}", npy_bytes(part))
            refs.append({"blob": f"{prefix}/{i}", "uri": None, "host": None, "length": len(part)})
        doc = {
            "name": name, "dtype": array.dtype.str, "shape": list(array.shape),
            "partitions": refs, "created": time.time(), "source": "upload", "closed": False,
        }
        self._insert(doc)
        return doc

    def register(self, body: Any) -> dict[str, Any]:
        """`POST /v1/datasets`: files one per partition, or (with "format") one array."""
        if isinstance(body, dict) and "format" in body:
            return self._register_array(body)
        try:
            request = RegisterDataset.model_validate(body)
        except ValidationError as exc:
            raise Invalid("invalid dataset registration", error_details(exc.errors())) from exc
        check_name(request.name)
        self._check_partitions(len(request.partitions))
        for part in request.partitions:
            self.data_roots.check(part.uri)
        total = sum(p.length for p in request.partitions)
        doc = {
            "name": request.name, "dtype": np.dtype(request.dtype).str, "shape": [total],
            "partitions": [
                {"blob": None, "uri": p.uri, "host": p.host, "length": p.length}
                for p in request.partitions
            ],
            "created": time.time(), "source": "registered", "closed": False,
        }
        self._insert(doc)
        return doc

    def register_array(self, name: str, fmt: str, uri: str, partitions: int, *,
                       path: str | None = None, host: str | None = None) -> dict[str, Any]:
        """Register rows of one array in place (a .npy file, an HDF5 dataset, a Zarr array)
        as `partitions` row ranges, split as numpy.array_split splits. Reads only its header,
        here on the scheduler; Invalid, Forbidden or Conflict like `register`."""
        body = {"name": name, "format": fmt, "uri": uri, "partitions": partitions}
        body |= {k: v for k, v in (("path", path), ("host", host)) if v is not None}
        return self._register_array(body)

    def _register_array(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            request = RegisterArray.model_validate(body)
        except ValidationError as exc:
            raise Invalid("invalid dataset registration", error_details(exc.errors())) from exc
        self._check_partitions(request.partitions)
        if self.store.get("datasets", request.name) is not None:
            raise Conflict(f"dataset {request.name!r} exists", [{"loc": "name", "msg": "taken"}])
        where = self.data_roots.check(request.uri)
        info = _array_info(request.format, where, request.path)
        try:
            ranges = row_ranges(info.shape[0], request.partitions)
        except ValueError as exc:
            raise Invalid(str(exc), [{"loc": "partitions", "msg": str(exc)}]) from exc
        doc = {
            "name": request.name, "dtype": info.dtype.str, "shape": list(info.shape),
            "format": request.format, "uri": request.uri, "path": request.path,
            "partitions": [
                {"blob": None, "uri": request.uri, "host": request.host, "length": stop - start,
                 "format": request.format, "path": request.path, "rows": [start, stop]}
                for start, stop in ranges
            ],
            "created": time.time(), "source": "registered",
        }
        self._insert(doc)
        return doc

    def from_outputs(self, name: str, job_id: str, outputs: list[dict[str, Any]],
                     blobs: list[str], fmt: str = "npy") -> dict[str, Any]:
        """Make the dataset a transform job wrote: `outputs` (length, dtype, shape) and the
        blob holding each partition; with fmt "hdf5", one HDF5 blob of them all instead."""
        dtypes = {o["dtype"] for o in outputs}
        trailing = {tuple(o["shape"][1:]) for o in outputs}
        if len(dtypes) != 1 or len(trailing) != 1:
            raise Invalid(
                f"partitions of the output disagree on dtype or shape: {sorted(dtypes)}, "
                f"{sorted(trailing)}"
            )
        total = sum(o["shape"][0] for o in outputs)
        doc = {
            "name": name, "dtype": dtypes.pop(), "shape": [total, *trailing.pop()],
            "partitions": [
                {"blob": blob, "uri": None, "host": None, "length": o["shape"][0]}
                for o, blob in zip(outputs, blobs, strict=True)
            ],
            "created": time.time(), "source": f"job:{job_id}", "closed": True,
        }
        if fmt == "hdf5":
            doc = self._as_hdf5(doc, blobs)
        self._insert(doc)
        if fmt == "hdf5":
            for blob in blobs:
                self.store.delete_blob(blob)
        return doc

    def _as_hdf5(self, doc: dict[str, Any], blobs: list[str]) -> dict[str, Any]:
        """`doc` stored as one HDF5 blob (the array at /data), its partitions row ranges."""
        with tempfile.TemporaryFile() as file:
            write_hdf5(file, (load_npy(self.store.get_blob(b)) for b in blobs),
                       np.dtype(doc["dtype"]), tuple(doc["shape"]))
            file.seek(0)
            key = f"ds/{uuid.uuid4().hex}/h5"
            self.store.put_blob(key, file.read())
        starts = itertools.accumulate((p["length"] for p in doc["partitions"]), initial=0)
        doc["partitions"] = [
            {**part, "blob": key, "format": "hdf5", "path": HDF5_ARRAY,
             "rows": [start, start + part["length"]]}
            for part, start in zip(doc["partitions"], starts, strict=False)
        ]
        return doc

    def _insert(self, doc: dict[str, Any]) -> None:
        try:
            self.store.insert("datasets", doc["name"], doc)
        except KeyConflict as exc:
            self._drop_blobs(doc)
            raise Conflict(f"dataset {doc['name']!r} exists", [{"loc": "name"}]) from exc
        for note in list(self.on_created):
            note(doc)

    def delete(self, name: str) -> None:
        doc = self.get(name)
        self.store.delete("datasets", name)
        self._drop_blobs(doc)

    def _drop_blobs(self, doc: dict[str, Any]) -> None:
        for blob in {part["blob"] for part in doc["partitions"] if part["blob"]}:
            self.store.delete_blob(blob)  # an HDF5 blob holds every partition

    def partition_npy(self, name: str, index: int) -> bytes:
        return self._partition(name, index)[0]

    def whole_npy(self, name: str) -> bytes:
        doc = self.get(name)
        parts = []
        for i in range(len(doc["partitions"])):
            data, array = self._partition(name, i)
            parts.append(load_npy(data) if array is None else array)
        buffer = io.BytesIO()
        np.save(buffer, np.concatenate(parts) if parts else np.empty(0), allow_pickle=False)
        return buffer.getvalue()

    def _partition(self, name: str, index: int) -> tuple[bytes, np.ndarray | None]:
        """A partition's .npy bytes, and its array where checking it decoded it (not for
        blobs femto wrote itself). A registered file is served only if it is still under a
        --data-root (a link there may point elsewhere since) and is the .npy it was
        registered as."""
        doc = self.get(name)
        if not 0 <= index < len(doc["partitions"]):
            raise NotFound(f"dataset {name!r} has no partition {index}", [{"loc": "partition"}])
        part = doc["partitions"][index]
        if part["blob"] and part.get("rows") is not None:
            return self._blob_rows(part)
        if part["blob"]:
            return self.store.get_blob(part["blob"]), None
        where = f"partition {index} of {name!r} ({part['uri']})"
        path = self.data_roots.check(part["uri"])
        if part.get("rows") is not None:
            return self._rows(doc, part, path, where)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise NotFound(f"{where} lies on {part['host']}, which this scheduler cannot "
                           f"read: {exc.strerror}", [{"loc": "partition"}]) from exc
        try:
            array = load_npy(data)
        except ValueError as exc:
            raise Invalid(f"{where} is not a valid .npy file: {exc}",
                          [{"loc": "partition"}]) from exc
        if array.dtype.str != doc["dtype"] or array.shape != (part["length"],):
            raise Invalid(f"{where} holds shape {array.shape} of {array.dtype.str}, but was "
                          f"registered as ({part['length']},) of {doc['dtype']}",
                          [{"loc": "partition"}])
        return data, array

    @staticmethod
    def _rows(doc: dict[str, Any], part: dict[str, Any], path: Path,
              where: str) -> tuple[bytes, np.ndarray]:
        """A row-range partition, read from its array if that still is what was registered."""
        info = _array_info(part["format"], path, part["path"])
        if info.dtype.str != doc["dtype"] or list(info.shape[1:]) != doc["shape"][1:]:
            raise Invalid(f"{where} holds shape {info.shape} of {info.dtype.str}, but was "
                          f"registered as {tuple(doc['shape'])} of {doc['dtype']}",
                          [{"loc": "partition"}])
        start, stop = part["rows"]
        try:
            array = read_rows(part["format"], path, part["path"], start, stop)
        except ArrayError as exc:
            raise Invalid(f"{where}: {exc}", [{"loc": "partition"}]) from exc
        return npy_bytes(array), array

    def _blob_rows(self, part: dict[str, Any]) -> tuple[bytes, np.ndarray]:
        """Rows of an HDF5 blob femto wrote: from its file, or (a store that keeps blobs in
        no local file) read from the store in place."""
        where = self.store.blob_path(part["blob"])
        start, stop = part["rows"]
        with contextlib.ExitStack() as stack:
            source = Path(where) if where else stack.enter_context(
                self.store.open_blob(part["blob"]))
            array = read_hdf5_rows(source, part["path"], start, stop)
            return npy_bytes(array), array

    def refs(self, doc: dict[str, Any], api_url: str, start: int = 0) -> list[dict[str, Any]]:
        """Where an executor finds each partition (from `start`): a local file, else the
        API."""
        refs = []
        for i, part in enumerate(doc["partitions"][start:], start):
            path = self.store.blob_path(part["blob"]) if part["blob"] else None
            uri = Path(path).as_uri() if path else part["uri"]
            refs.append({
                "uri": uri, "url": partition_url(api_url, doc["name"], i),
                "length": part["length"], "dtype": doc["dtype"], "host": part["host"],
                "format": part.get("format", "npy"), "path": part.get("path"),
                "rows": tuple(part["rows"]) if part.get("rows") is not None else None,
            })
        return refs


def partition_url(api_url: str, dataset: str, partition: int) -> str:
    """Where an executor reads a partition through the API."""
    return f"{api_url}/executor/datasets/{dataset}/partitions/{partition}"


def _array_info(fmt: str, path: Path, array_path: str | None) -> ArrayInfo:
    """The array's header, or the 4xx saying why it is none (a missing extra names its
    pip command)."""
    try:
        return inspect(fmt, path, array_path)
    except MissingExtra as exc:
        raise Invalid(str(exc), [{"loc": "format", "msg": str(exc)}]) from exc
    except ArrayError as exc:
        raise Invalid(str(exc), [{"loc": "uri", "msg": str(exc)}]) from exc
