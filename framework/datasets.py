"""Datasets: uploaded and split, registered where they lie, or written by jobs."""

from __future__ import annotations

import io
import re
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from framework.errors import BadRequest, Conflict, Invalid, NotFound, error_details
from framework.store import KeyConflict, Store
from jobs.datasets import RegisterDataset, file_uri_path, load_npy, npy_bytes, split
from jobs.names import NAME_PATTERN

DEFAULT_PARTITIONS = 8


def check_name(name: str) -> None:
    if not re.fullmatch(NAME_PATTERN, name):
        raise Invalid(
            f"dataset name {name!r} must match {NAME_PATTERN}",
            [{"loc": "name", "msg": "invalid dataset name"}],
        )


class Datasets:
    def __init__(self, store: Store) -> None:
        self.store = store

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
            "partitions": len(doc["partitions"]),
        }

    def upload(self, name: str, body: bytes, partitions: int | None) -> dict[str, Any]:
        """Split an uploaded .npy into `partitions` (default: up to 8) along axis 0."""
        check_name(name)
        if partitions is not None and partitions < 1:
            raise Invalid(
                "partitions must be at least 1", [{"loc": "partitions", "msg": "must be >= 1"}]
            )
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
            "partitions": refs, "created": time.time(), "source": "upload",
        }
        self._insert(doc)
        return doc

    def register(self, body: Any) -> dict[str, Any]:
        try:
            request = RegisterDataset.model_validate(body)
        except ValidationError as exc:
            raise Invalid("invalid dataset registration", error_details(exc.errors())) from exc
        check_name(request.name)
        total = sum(p.length for p in request.partitions)
        doc = {
            "name": request.name, "dtype": np.dtype(request.dtype).str, "shape": [total],
            "partitions": [
                {"blob": None, "uri": p.uri, "host": p.host, "length": p.length}
                for p in request.partitions
            ],
            "created": time.time(), "source": "registered",
        }
        self._insert(doc)
        return doc

    def from_outputs(self, name: str, job_id: str, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        """Make the dataset a transform job wrote, one output blob per partition."""
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
                {"blob": output_blob(job_id, i), "uri": None, "host": None,
                 "length": o["shape"][0]}
                for i, o in enumerate(outputs)
            ],
            "created": time.time(), "source": f"job:{job_id}",
        }
        self._insert(doc)
        return doc

    def _insert(self, doc: dict[str, Any]) -> None:
        try:
            self.store.insert("datasets", doc["name"], doc)
        except KeyConflict as exc:
            self._drop_blobs(doc)
            raise Conflict(f"dataset {doc['name']!r} exists", [{"loc": "name"}]) from exc

    def delete(self, name: str) -> None:
        doc = self.get(name)
        self.store.delete("datasets", name)
        self._drop_blobs(doc)

    def _drop_blobs(self, doc: dict[str, Any]) -> None:
        for part in doc["partitions"]:
            if part["blob"]:
                self.store.delete_blob(part["blob"])

    def partition_npy(self, name: str, index: int) -> bytes:
        doc = self.get(name)
        if not 0 <= index < len(doc["partitions"]):
            raise NotFound(f"dataset {name!r} has no partition {index}", [{"loc": "partition"}])
        part = doc["partitions"][index]
        if part["blob"]:
            return self.store.get_blob(part["blob"])
        path = Path(file_uri_path(part["uri"]))  # registration checked it is file:///
        if not path.exists():
            raise NotFound(
                f"partition {index} of {name!r} lies on {part['host']} ({part['uri']}), "
                "which this scheduler cannot read",
                [{"loc": "partition"}],
            )
        return path.read_bytes()

    def whole_npy(self, name: str) -> bytes:
        doc = self.get(name)
        parts = [
            load_npy(self.partition_npy(name, i)) for i in range(len(doc["partitions"]))
        ]
        buffer = io.BytesIO()
        np.save(buffer, np.concatenate(parts) if parts else np.empty(0), allow_pickle=False)
        return buffer.getvalue()

    def refs(self, doc: dict[str, Any], api_url: str) -> list[dict[str, Any]]:
        """Where an executor finds each partition: a local file, else the API."""
        refs = []
        for i, part in enumerate(doc["partitions"]):
            path = self.store.blob_path(part["blob"]) if part["blob"] else None
            uri = Path(path).as_uri() if path else part["uri"]
            refs.append({
                "uri": uri, "url": f"{api_url}/v1/datasets/{doc['name']}/partitions/{i}",
                "length": part["length"], "dtype": doc["dtype"], "host": part["host"],
            })
        return refs


def output_blob(job_id: str, partition: int) -> str:
    return f"out/{job_id}/{partition}"
