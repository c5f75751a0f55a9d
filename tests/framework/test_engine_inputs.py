"""A job's inputs as the engine holds them (columns, URLs derived): each partition reads
back as the dataset's refs gave it, so executors are sent the same references."""

from __future__ import annotations

from typing import Any

from femto.datasets import partition_url
from femto.engine.config import InputColumns, InputPartition

API = "http://sched:8080"


def ref(i: int, **in_place: Any) -> dict[str, Any]:
    return {"uri": f"file:///d/{i}.npy", "url": partition_url(API, "d", i), "length": 10 + i,
            "dtype": "<f8", "host": "h1" if i % 2 else None,
            "format": "npy", "path": None, "rows": None, **in_place}


def partition(r: dict[str, Any]) -> InputPartition:
    return InputPartition(r["uri"], r["url"], r["length"], r["dtype"], r["host"],
                          r["format"], r["path"], r["rows"])


def test_columns_read_back_every_partition_as_its_ref() -> None:
    refs = [ref(0), ref(1, format="hdf5", path="/run/x", rows=(11, 22)), ref(2, rows=(0, 12))]
    columns = InputColumns(API, "d", "<f8", refs)
    expected = [partition(r) for r in refs]
    assert len(columns) == 3
    assert list(columns) == expected
    assert columns[-1] == expected[-1] and columns[1:] == expected[1:]
    assert columns[2].url == "http://sched:8080/executor/datasets/d/partitions/2"


def test_an_appended_partition_gets_the_url_of_its_index() -> None:
    columns = InputColumns(API, "d", "<f8", [ref(0)])
    columns.append(InputPartition("file:///d/1.npy", None, 11, "<f8", "h1"))
    assert columns[1] == partition(ref(1))


def test_uris_of_any_shape_read_back_as_the_dataset_gave_them() -> None:
    # Packed as a shared folder and a name of their own: none may come back changed.
    uris = ["file:///d/0.npy", None, "s3://bucket/run/\u00fcn\u00ef.npy", "relative",
            "file:///e/", "file:///d/5.npy", "", "file:///d/sub/7.npy", "file:///d/\ud800"]
    columns = InputColumns(API, "d", "<f8", [ref(i, uri=u) for i, u in enumerate(uris)])
    assert [p.uri for p in columns] == uris
    assert [columns.host(i) for i in range(len(uris))] == [p.host for p in columns]
