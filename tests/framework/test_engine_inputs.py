"""A job's inputs as the engine holds them (columns, URLs derived): each partition reads
back as the dataset's refs gave it, so executors are sent the same references."""

from __future__ import annotations

from femto.datasets import partition_url
from femto.engine.config import InputColumns, InputPartition


def test_columns_read_back_every_partition_as_its_ref() -> None:
    api = "http://sched:8080"
    refs = [{"uri": f"file:///d/{i}.npy", "url": partition_url(api, "d", i), "length": 10 + i,
             "dtype": "<f8", "host": "h1" if i % 2 else None} for i in range(3)]
    columns = InputColumns(api, "d", "<f8", refs)
    expected = [InputPartition(r["uri"], r["url"], r["length"], r["dtype"], r["host"])
                for r in refs]
    assert len(columns) == 3
    assert list(columns) == expected
    assert columns[-1] == expected[-1] and columns[1:] == expected[1:]
    assert columns[2].url == "http://sched:8080/executor/datasets/d/partitions/2"
