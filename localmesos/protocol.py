"""Small helpers over the protobuf-JSON messages of the v1 API."""

from __future__ import annotations

import base64
import signal
import time
import uuid


class CallRejected(Exception):
    """A call the server refuses: `status` is the HTTP status, `message` the text body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def new_uuid() -> str:
    """A status update uuid: an RFC 4122 version 4 UUID's 16 bytes, base64 as protobuf
    JSON writes `bytes` (stout's `UUID::fromBytes` refuses bytes of an unknown version)."""
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
