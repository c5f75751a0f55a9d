"""An executor reads only its own rows of an array read in place: from the file where it lies,
else the scheduler's url serving just those rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from femto.executor.httpio import Api
from femto.executor.inputs import InputError, read_left_tail, read_partition
from femto.jobs.wire import PartitionRef, PayloadError, parse_payload
from tests.executor.conftest import FakeApi

DATA = np.arange(1_000, dtype=np.float64) * 0.5


@pytest.fixture
def http() -> Iterator[Api]:
    with httpx.Client(timeout=10) as client:
        yield Api(client, None, threading.Event())


def rows_ref(path: Path, start: int, stop: int, **extra: Any) -> PartitionRef:
    return PartitionRef(uri=path.as_uri(), length=stop - start, dtype="<f8", format="npy",
                        rows=(start, stop), **extra)


def test_a_local_array_gives_only_the_partition_s_rows(tmp_path: Path, http: Api) -> None:
    np.save(tmp_path / "a.npy", DATA)
    array = read_partition(rows_ref(tmp_path / "a.npy", 334, 667), http)
    np.testing.assert_array_equal(array, DATA[334:667])


def test_missing_here_the_rows_come_from_the_url(tmp_path: Path, api: FakeApi,
                                                 http: Api) -> None:
    url = api.add_partition("a", 1, DATA[334:667])
    ref = rows_ref(tmp_path / "elsewhere.npy", 334, 667, url=url)
    np.testing.assert_array_equal(read_partition(ref, http), DATA[334:667])


def test_an_array_shorter_than_its_rows_fails_the_read(tmp_path: Path, http: Api) -> None:
    np.save(tmp_path / "a.npy", DATA[:500])
    with pytest.raises(InputError, match="no rows 334:667"):
        read_partition(rows_ref(tmp_path / "a.npy", 334, 667), http)


def test_the_left_tail_is_the_rows_just_before(tmp_path: Path, http: Api) -> None:
    np.save(tmp_path / "a.npy", DATA)
    refs = [rows_ref(tmp_path / "a.npy", 0, 334), rows_ref(tmp_path / "a.npy", 334, 667)]
    tail = read_left_tail(refs, 400, http)
    assert tail is not None
    np.testing.assert_array_equal(tail, DATA[267:667])


@pytest.mark.parametrize(("ref", "named"), [
    ({"rows": [0, 5], "length": 4}, "not 4 rows long"),
    ({"rows": [5, 2], "length": 0}, "0 <= start <= stop"),
    ({"format": "hdf5", "length": 4}, "needs its rows"),
    ({"format": "csv", "length": 4}, "format"),
])
def test_a_ref_whose_rows_do_not_add_up_is_a_bad_payload(ref: dict, named: str) -> None:
    payload = {"job_id": "j", "partition": 0, "attempt": 1, "operation": "sum",
               "inputs": [{"uri": "file:///a.npy", "dtype": "<f8", **ref}]}
    with pytest.raises(PayloadError, match=named):
        parse_payload(payload)
