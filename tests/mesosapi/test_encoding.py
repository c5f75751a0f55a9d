from __future__ import annotations

import random

import pytest

from mesosapi.backoff import backoff_delay
from mesosapi.encoding import as_id, decode_data, encode_data, parse_duration, parse_flag


def test_bytes_fields_round_trip_as_base64() -> None:
    raw = bytes(range(256))
    assert decode_data(encode_data(raw)) == raw
    assert encode_data(b"sample data") == "c2FtcGxlIGRhdGE="


def test_decode_data_names_bad_input() -> None:
    with pytest.raises(ValueError, match="not base64"):
        decode_data("not base64!")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15mins", 900.0), ("2secs", 2.0), ("250ms", 0.25), ("1weeks", 604800.0), ("1.5hrs", 5400.0)],
)
def test_mesos_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["15", "mins", "15 minutes", "-1secs"])
def test_malformed_duration_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="malformed duration"):
        parse_duration(text)


def test_checkpoint_flag_zero_is_false() -> None:
    # pymesos read MESOS_CHECKPOINT="0" as true.
    assert parse_flag("MESOS_CHECKPOINT", "0") is False
    assert parse_flag("MESOS_CHECKPOINT", "1") is True
    assert parse_flag("MESOS_CHECKPOINT", "false") is False
    with pytest.raises(ValueError, match="MESOS_CHECKPOINT must be 0 or 1"):
        parse_flag("MESOS_CHECKPOINT", "yes please")


def test_as_id_accepts_strings_and_id_dicts() -> None:
    assert as_id("o-1", "offer id") == {"value": "o-1"}
    assert as_id({"value": "o-1", "extra": 1}, "offer id") == {"value": "o-1"}
    with pytest.raises(ValueError, match="offer id must be"):
        as_id(17, "offer id")


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    first = [backoff_delay(0, base=1.0, cap=8.0, rng=rng) for _ in range(50)]
    assert all(0.5 <= d <= 1.0 for d in first)
    assert len(set(first)) > 1
    assert all(2.0 <= backoff_delay(2, base=1.0, cap=8.0, rng=rng) <= 4.0 for _ in range(50))
    assert all(4.0 <= backoff_delay(500, base=1.0, cap=8.0, rng=rng) <= 8.0 for _ in range(50))
