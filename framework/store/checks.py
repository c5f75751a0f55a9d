"""Input checks and the JSON encoding shared by both backends.

Both backends accept exactly the same inputs, so code that works on SQLite
in tests works on MongoDB in production.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from femto.store.base import COLLECTIONS

_USERINFO = re.compile(r"//[^/@]*@")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SCALARS = (str, int, float, bool, type(None))


def check_collection(collection: str) -> str:
    if collection not in COLLECTIONS:
        raise ValueError(f"unknown collection {collection!r}; expected one of {COLLECTIONS}")
    return collection


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"a key must be a non-empty string, not {key!r}")
    return key


def check_equals(equals: Mapping[str, Any]) -> Mapping[str, Any]:
    """`find` filters: top-level field names and scalar values only."""
    for field, value in equals.items():
        if not _FIELD.match(field):
            raise ValueError(f"find field {field!r} is not a plain top-level field name")
        if not isinstance(value, _SCALARS):
            raise ValueError(
                f"find value for {field!r} must be a str, number, bool or None, "
                f"not {type(value).__name__}"
            )
    return equals


def check_epoch(epoch: int) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"an epoch must be a non-negative int, not {epoch!r}")
    return epoch


def encode_doc(doc: Mapping[str, Any]) -> str:
    """Compact JSON of a document; ValueError naming what cannot be stored."""
    if not isinstance(doc, Mapping):
        raise ValueError(f"a document must be a mapping, not {type(doc).__name__}")
    try:
        return json.dumps(doc, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"document is not JSON-serialisable: {exc}") from exc


def decode_doc(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    return doc


def redacted(url: str) -> str:
    """The URL without its credentials, fit for error messages and logs."""
    return _USERINFO.sub("//***@", url)
