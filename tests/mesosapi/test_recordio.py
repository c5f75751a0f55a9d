from __future__ import annotations

import json

import pytest

from mesosapi.recordio import Decoder, RecordIOError, encode


def test_encode_prefixes_the_byte_length() -> None:
    record = json.dumps({"type": "HEARTBEAT", "x": "é"}).encode()
    assert encode(record) == str(len(record)).encode() + b"\n" + record


def test_record_split_across_chunks_is_reassembled() -> None:
    records = [b'{"type":"SUBSCRIBED"}', b'{"type":"HEARTBEAT"}']
    stream = b"".join(encode(r) for r in records)
    decoder = Decoder()
    out: list[bytes] = []
    for i in range(len(stream)):  # one byte at a time: every possible split point
        out += decoder.feed(stream[i : i + 1])
    assert out == records
    assert decoder.buffered == 0


def test_several_records_in_one_chunk_come_out_in_order() -> None:
    records = [b"a", b"", b'{"k": [1, 2, 3]}', b"\n\n"]
    decoder = Decoder()
    assert decoder.feed(b"".join(encode(r) for r in records) + b"5\nab") == records
    assert decoder.feed(b"cde") == [b"abcde"]


@pytest.mark.parametrize("garbage", [b"abc\n{}", b"-1\n", b"1 2\nxx", b"\n", b"0x10\n"])
def test_malformed_length_raises(garbage: bytes) -> None:
    with pytest.raises(RecordIOError, match="malformed record length"):
        Decoder().feed(garbage)


def test_endless_length_prefix_raises_instead_of_buffering_forever() -> None:
    with pytest.raises(RecordIOError, match="no record length"):
        Decoder().feed(b"9" * 30)
