"""RecordIO framing of the Mesos event streams: ``<decimal length>\\n<record bytes>``.

See docs/recordio.md in apache/mesos. Chunk boundaries of the HTTP body are
unrelated to record boundaries, so the decoder buffers partial input.
"""

from __future__ import annotations

from mesosapi.errors import RecordIOError

__all__ = ["Decoder", "RecordIOError", "encode"]

# A length prefix longer than this many digits cannot be a sane record size
# (2**64 has 20 digits); without a bound a stream of digits would grow forever.
MAX_LENGTH_DIGITS = 20


def encode(record: bytes) -> bytes:
    """Frame one record."""
    return b"%d\n" % len(record) + record


class Decoder:
    """Incremental decoder: feed it bytes as they arrive, get whole records back."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending_length: int | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every record completed by them, in order."""
        self._buffer += data
        records: list[bytes] = []
        while True:
            if self._pending_length is None:
                newline = self._buffer.find(b"\n")
                if newline < 0:
                    if len(self._buffer) > MAX_LENGTH_DIGITS:
                        raise RecordIOError(
                            f"no record length within {MAX_LENGTH_DIGITS} bytes: "
                            f"{bytes(self._buffer[:40])!r}"
                        )
                    return records
                self._pending_length = _parse_length(bytes(self._buffer[:newline]))
                del self._buffer[: newline + 1]
            if len(self._buffer) < self._pending_length:
                return records
            records.append(bytes(self._buffer[: self._pending_length]))
            del self._buffer[: self._pending_length]
            self._pending_length = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a record."""
        return len(self._buffer)


def _parse_length(text: bytes) -> int:
    if not text.isdigit() or len(text) > MAX_LENGTH_DIGITS:
        raise RecordIOError(f"malformed record length {text[:40]!r}")
    return int(text)
