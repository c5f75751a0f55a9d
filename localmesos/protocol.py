"""Small helpers over the protobuf-JSON messages of the v1 API."""

from __future__ import annotations

import base64
import signal
import time
import uuid
from typing import Any


class CallRejected(Exception):
    """A call the server refuses: `status` is the HTTP status, `message` the text body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def id_value(message: dict[str, Any], field: str, *, where: str = "call") -> str:
    """`message[field]["value"]`, or a 400 naming the missing field."""
    wrapped = message.get(field)
    value = wrapped.get("value") if isinstance(wrapped, dict) else None
    if not isinstance(value, str) or not value:
        raise CallRejected(400, f"Expecting '{field}' (an object with a 'value') in the {where}")
    return value


def section(call: dict[str, Any], field: str) -> dict[str, Any]:
    """The call's payload object for its type, e.g. `call["accept"]`; 400 when absent."""
    body = call.get(field)
    if not isinstance(body, dict):
        raise CallRejected(400, f"Expecting '{field}' to be present")
    return body


def new_uuid() -> str:
    """A status update uuid: 16 random bytes, base64 as protobuf JSON writes `bytes`."""
    return base64.b64encode(uuid.uuid4().bytes).decode("ascii")


def now() -> float:
    return time.time()


def wait_status(returncode: int) -> int:
    """asyncio's returncode (-signal or exit code) as the raw waitpid status Mesos reports."""
    return -returncode if returncode < 0 else returncode << 8


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"terminated with signal {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"
