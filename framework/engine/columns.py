"""Strings held by the hundred thousand without an object each (a long queue's input URIs).

A partition's URI is mostly its dataset's folder, shared by every partition, and a short
name of its own (`file:///data/run/part-00042.npy`). Each is kept as the folder, stored
once, and the rest packed as UTF-8 in one buffer: 12 bytes and the name's length per
string, instead of a str object (about 80 bytes) and a list's reference to it."""

from __future__ import annotations

from array import array

# JSON may escape a lone surrogate into a name (\ud800): it must come back as given.
_LONE_SURROGATES = "surrogatepass"


class PackedStrings:
    """An append-only column of str | None, each made again when read."""

    __slots__ = ("_ends", "_head_ids", "_heads", "_ids", "_tails")

    def __init__(self) -> None:
        self._heads: list[str | None] = []  # each distinct head (None: no value)
        self._ids: dict[str | None, int] = {}  # head -> its index in _heads
        self._head_ids = array("I")  # per string: its head's index
        self._tails = bytearray()
        self._ends = array("Q")  # per string: where its tail ends in _tails

    def append(self, value: str | None) -> None:
        head, tail = (None, "") if value is None else _split(value)
        head_id = self._ids.get(head)
        if head_id is None:
            head_id = self._ids[head] = len(self._heads)
            self._heads.append(head)
        self._head_ids.append(head_id)
        self._tails += tail.encode("utf-8", _LONE_SURROGATES)
        self._ends.append(len(self._tails))

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str | None:
        """The string at `index`, from 0 (no negative index)."""
        head = self._heads[self._head_ids[index]]
        if head is None:
            return None
        start = self._ends[index - 1] if index > 0 else 0
        return head + self._tails[start:self._ends[index]].decode("utf-8", _LONE_SURROGATES)


def _split(value: str) -> tuple[str, str]:
    """Up to and with the last "/", and the rest."""
    cut = value.rfind("/") + 1
    return value[:cut], value[cut:]
