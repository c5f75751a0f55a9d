"""The femto task payload (TaskInfo.data): parsed and validated into typed objects.

The scheduler in `framework/` writes this JSON; see "femto task contract" in DESIGN.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


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
        return self


class OutputRef(_Strict):
    url: str

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s):// URL, got {url!r}")
        return url


class TaskPayload(_Strict):
    job_id: str = Field(min_length=1)
    partition: int = Field(ge=0)
    attempt: int = Field(ge=0)
    operation: str = Field(min_length=1)
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
