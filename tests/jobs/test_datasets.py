"""Partitioning, the .npy codec and the dataset request models."""

import io
import pickle

import numpy as np
import pytest
from pydantic import ValidationError

from femto.jobs.datasets import RegisterDataset, load_npy, npy_bytes, split


def test_split_is_numpy_array_split() -> None:
    x = np.arange(10)
    parts = split(x, 3)
    assert [len(p) for p in parts] == [4, 3, 3]
    np.testing.assert_array_equal(np.concatenate(parts), x)
    assert [len(p) for p in split(np.empty(0), 4)] == [0, 0, 0, 0]
    assert [p.shape for p in split(np.zeros((5, 2)), 5)] == [(1, 2)] * 5


@pytest.mark.parametrize(("length", "k", "match"), [(3, 4, "3 elements into 4"), (3, 0, ">= 1")])
def test_split_refuses_impossible_counts(length: int, k: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        split(np.arange(length), k)


def test_npy_round_trip_keeps_dtype_and_shape() -> None:
    for array in (np.arange(5.0), np.zeros((3, 2), dtype=np.int32), np.array([], dtype=np.uint8)):
        back = load_npy(npy_bytes(array))
        assert back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("garbage", [b"", b"hello world", b"\x93NUMPY", pickle.dumps([1, 2])])
def test_load_npy_refuses_garbage(garbage: bytes) -> None:
    with pytest.raises(ValueError, match="npy"):
        load_npy(garbage)


@pytest.mark.parametrize("header", [b"{'descr': [(", b"\x1e$\r)\n[", b"{'a': 1 +"])
def test_load_npy_refuses_a_header_that_is_not_python(header: bytes) -> None:
    # NumPy tokenizes the header: an unclosed bracket raised a TokenError, an API 500.
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    with pytest.raises(ValueError, match=r"malformed \.npy header"):
        load_npy(data)


def test_load_npy_refuses_truncated_data() -> None:
    data = npy_bytes(np.arange(100.0))
    with pytest.raises(ValueError, match=r"800 bytes.*792 bytes of data follow"):
        load_npy(data[:-8])
    with pytest.raises(ValueError, match="8 bytes of data follow"):
        load_npy(data + b"\0" * 8)


def header_only(shape: tuple[int, ...], descr: str) -> bytes:
    """A .npy header claiming `shape` of `descr`, followed by no data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_load_npy_checks_the_claimed_size_before_allocating() -> None:
    # 2**40 float64 would be 8 TiB: refused from the header alone, without a MemoryError.
    with pytest.raises(ValueError, match=r"\(1099511627776,\) of <f8 \(8796093022208 bytes\)"):
        load_npy(header_only((2**40,), "<f8"))


@pytest.mark.parametrize(("descr", "match"), [
    ("|V0", "zero-size"), ("<U0", "zero-size"),
    ([("a", "<f8"), ("b", "<i4")], "not supported"), ("(3,)<f8", "not supported"),
])
def test_load_npy_refuses_unusable_dtypes(descr: object, match: str) -> None:
    buffer = io.BytesIO()
    dtype = np.dtype(descr)  # type: ignore[call-overload]
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                 "shape": (2**36,)})
    with pytest.raises(ValueError, match=match):
        load_npy(buffer.getvalue())


def test_load_npy_refuses_a_pickled_object_array() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="object array"):
        load_npy(buffer.getvalue())


def test_npy_bytes_refuses_object_arrays() -> None:
    with pytest.raises(ValueError):
        npy_bytes(np.array([object()], dtype=object))


def register(**change: object) -> dict:
    body = {"name": "ev", "dtype": "float64",
            "partitions": [{"uri": "file:///data/ev-0.npy", "host": "agent-1", "length": 10},
                           {"uri": "file:///data/ev-1.npy", "host": "agent-2", "length": 5}]}
    return {**body, **change}


@pytest.mark.parametrize(
    ("change", "loc"),
    [({"partitions": [{"uri": "http://x/a.npy", "host": "h", "length": 1}]}, "partitions.0.uri"),
     ({"partitions": [{"uri": "file://relative.npy", "host": "h", "length": 1}]},
      "partitions.0.uri"),
     ({"partitions": [{"uri": "file:///a.npy", "host": "h", "length": 1, "x": 1}]},
      "partitions.0.x"),
     ({"partitions": []}, "partitions"),
     ({"name": "a b"}, "name"),
     ({"dtype": "object"}, "dtype"),
     ({"shape": [3]}, "shape")],
)
def test_register_dataset_errors_name_the_field(change: dict, loc: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RegisterDataset.model_validate(register(**change))
    assert [".".join(map(str, e["loc"])) for e in caught.value.errors()] == [loc]
