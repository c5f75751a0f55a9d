"""The scheduler-executor contract: every message between them, one typed definition.

- TaskPayload: TaskInfo.data, what the scheduler asks of one attempt.
- TaskResult: TaskStatus.data of TASK_FINISHED, what the attempt produced.
- Progress: a framework message from the executor, how far an attempt has come.

The scheduler builds these models and the executor parses them (and the reverse), so a
field renamed on one side fails the other's tests, not production.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from femto.jobs.operations.registry import Package


class PayloadError(ValueError):
    """The task payload is not a valid femto task; the message names what is wrong."""


class _Strict(BaseModel):
    # Unknown fields are rejected so that a typo in the scheduler fails loudly, not silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartitionRef(_Strict):
    """Where one partition of a dataset can be read: a local file, an HTTP URL, or both."""

    uri: str | None = None
    url: str | None = None
    length: int = Field(ge=0)
    dtype: str
    # An array read in place: the file's format, the array inside it (hdf5, zarr), and the
    # rows [start, stop) that are this partition. Without rows, the file is the partition.
    # The url, if any, serves just these rows as .npy.
    format: Literal["npy", "hdf5", "zarr"] = "npy"
    path: str | None = None
    rows: tuple[int, int] | None = None

    @field_validator("uri")
    @classmethod
    def _file_uri(cls, uri: str | None) -> str | None:
        if uri is not None and not uri.startswith("file://"):
            raise ValueError(f"must be a file:// URI, got {uri!r}")
        return uri

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s):// URL, got {url!r}")
        return url

    @field_validator("dtype")
    @classmethod
    def _numpy_dtype(cls, dtype: str) -> str:
        try:
            np.dtype(dtype)
        except TypeError as exc:
            raise ValueError(f"not a NumPy dtype: {dtype!r}") from exc
        return dtype

    @model_validator(mode="after")
    def _somewhere(self) -> PartitionRef:
        if self.uri is None and self.url is None:
            raise ValueError("a partition needs a uri or a url")
        if self.rows is not None and not 0 <= self.rows[0] <= self.rows[1]:
            raise ValueError(f"rows must be [start, stop) with 0 <= start <= stop, "
                             f"got {list(self.rows)}")
        if self.rows is not None and self.rows[1] - self.rows[0] != self.length:
            raise ValueError(f"rows {list(self.rows)} are not {self.length} rows long")
        if self.rows is None and self.format != "npy":
            raise ValueError(f"a {self.format} partition needs its rows")
        return self


class OutputRef(_Strict):
    url: str

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s):// URL, got {url!r}")
        return url


class OutputMeta(_Strict):
    """A transform's output partition as uploaded: its rows, dtype and full shape."""

    length: int = Field(ge=0)
    dtype: str
    shape: list[int] = Field(default_factory=list)


class TaskPayload(_Strict):
    job_id: str = Field(min_length=1)
    partition: int = Field(ge=0)
    attempt: int = Field(ge=0)
    operation: str = Field(min_length=1)
    # Where the scheduler has `operation` from: an agent without it names it in the failure.
    package: Package | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[PartitionRef] = Field(min_length=1)
    left: list[PartitionRef] = Field(default_factory=list)
    output: OutputRef | None = None
    credential: str | None = None  # this attempt's, for femto's executor routes
    api_mirrors: list[str] = Field(default_factory=list)  # other schedulers' base URLs


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each offending field and what is wrong with it."""
    return "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or '(payload)'}: {err['msg']}"
        for err in exc.errors()
    )


def parse_payload(raw: bytes | str | Mapping[str, Any]) -> TaskPayload:
    """Parse TaskInfo.data (already base64-decoded) or a dict into a TaskPayload.

    Raises PayloadError with a message naming every offending field.
    """
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadError(f"bad task payload: not JSON ({exc})") from exc
    if not isinstance(raw, Mapping):
        raise PayloadError(f"bad task payload: expected a JSON object, got {type(raw).__name__}")
    try:
        return TaskPayload.model_validate(dict(raw))
    except ValidationError as exc:
        raise PayloadError(f"bad task payload: {describe_validation_error(exc)}") from exc


class TaskResult(_Strict):
    """A finished attempt's product: a query's partial result, or the metadata of the
    output partition it uploaded (a transform). Exactly one of the two."""

    # NaN and infinities are results too (a sum over data holding NaN): kept as JSON's
    # common NaN/Infinity extension, not turned into null.
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    result: Any = None
    output: OutputMeta | None = None

    @model_validator(mode="after")
    def _one(self) -> TaskResult:
        if (self.result is None) == (self.output is None):
            raise ValueError("a task result carries a result or an output, not both or neither")
        return self

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class Progress(_Strict):
    task_id: str = Field(min_length=1)  # the Mesos task id of the attempt
    progress: float = Field(ge=0.0, le=1.0)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def parse_task_result(data: bytes) -> TaskResult:
    """TaskStatus.data of a TASK_FINISHED (already base64-decoded). ValueError naming what
    is wrong when it is not a TaskResult."""
    try:
        return TaskResult.model_validate_json(data)
    except ValidationError as exc:
        raise ValueError(f"bad task result: {describe_validation_error(exc)}") from exc


def parse_progress(data: bytes) -> Progress:
    """A framework message; ValueError when it is not progress."""
    try:
        return Progress.model_validate_json(data)
    except ValidationError as exc:
        raise ValueError(f"not a progress message: {describe_validation_error(exc)}") from exc
