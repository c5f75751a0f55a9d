"""Exceptions raised by the Mesos API drivers."""

from __future__ import annotations


class MesosError(Exception):
    """Base class for every error this package raises."""


class NotConnected(MesosError):
    """A call was made while the driver is not subscribed; the call was not sent."""


class CallError(MesosError):
    """Mesos answered a call with a 4xx or 5xx status."""

    def __init__(self, call: str, status: int, body: str) -> None:
        super().__init__(f"{call} call failed with HTTP {status}: {body.strip()[:500]}")
        self.call = call
        self.status = status
        self.body = body


class RecordIOError(MesosError):
    """The event stream is not valid RecordIO."""


class StreamEnded(MesosError):
    """The subscription stream closed or stopped delivering events."""
