"""Value encodings of the protobuf JSON mapping Mesos uses, and Mesos durations."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

# Units of stout's Duration, as Mesos prints and parses them ("15mins", "250ms").
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "secs": 1.0,
    "mins": 60.0,
    "hrs": 3600.0,
    "days": 86400.0,
    "weeks": 604800.0,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)\s*$")


def encode_data(raw: bytes) -> str:
    """A protobuf ``bytes`` field as JSON: standard base64."""
    return base64.b64encode(raw).decode("ascii")


def decode_data(text: str) -> bytes:
    """The bytes of a base64 ``bytes`` field; ValueError if it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64 data: {text[:40]!r}: {exc}") from exc


def parse_duration(text: str) -> float:
    """Seconds in a Mesos duration such as ``15mins``, ``2secs`` or ``250ms``."""
    match = _DURATION.match(text)
    if match is None or match.group(2) not in _DURATION_UNITS:
        units = ", ".join(_DURATION_UNITS)
        raise ValueError(f"malformed duration {text!r}: expected a number and one of {units}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_flag(name: str, text: str) -> bool:
    """A boolean environment flag: Mesos writes "1"/"0" (older agents "true"/"false")."""
    value = text.strip().lower()
    if value in ("1", "true"):
        return True
    if value in ("0", "false", ""):
        return False
    raise ValueError(f"{name} must be 0 or 1, got {text!r}")


def as_id(value: object, what: str) -> dict[str, str]:
    """An id message (``{"value": ...}``) from a plain string or an id dict."""
    if isinstance(value, str):
        return {"value": value}
    if isinstance(value, Mapping) and isinstance(value.get("value"), str):
        return {"value": value["value"]}
    raise ValueError(f"{what} must be a string or {{'value': str}}, got {value!r}")
