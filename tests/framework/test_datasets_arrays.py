"""Datasets.register_array, the entry point the triggers and POST /v1/datasets share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from femto.datasets import DataRoots, Datasets
from femto.errors import Conflict, Forbidden, Invalid
from femto.store.sqlite import SqliteStore


def test_register_array_stores_row_ranges_of_the_file(store: SqliteStore,
                                                      tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(10, dtype=np.int16))
    datasets = Datasets(store, DataRoots([tmp_path]))
    doc = datasets.register_array("x", "npy", (tmp_path / "x.npy").as_uri(), 3, host="h1")
    assert (doc["dtype"], doc["shape"], doc["format"]) == ("<i2", [10], "npy")
    assert [(p["rows"], p["length"], p["host"]) for p in doc["partitions"]] == [
        ([0, 4], 4, "h1"), ([4, 7], 3, "h1"), ([7, 10], 3, "h1")]
    assert store.get("datasets", "x") == doc
    refs = datasets.refs(doc, "http://api")
    assert [(r["rows"], r["format"], r["uri"]) for r in refs] == [
        ((s, e), "npy", (tmp_path / "x.npy").as_uri()) for s, e in ((0, 4), (4, 7), (7, 10))]
    with pytest.raises(Conflict):
        datasets.register_array("x", "npy", (tmp_path / "x.npy").as_uri(), 3)


def test_register_array_refuses_what_the_route_refuses(store: SqliteStore,
                                                       tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(10.0))
    uri = (tmp_path / "x.npy").as_uri()
    with pytest.raises(Forbidden, match="--data-root"):
        Datasets(store).register_array("x", "npy", uri, 2)
    datasets = Datasets(store, DataRoots([tmp_path / "sub"]))
    with pytest.raises(Forbidden, match="outside every --data-root"):
        datasets.register_array("x", "npy", uri, 2)
    datasets = Datasets(store, DataRoots([tmp_path]))
    with pytest.raises(Invalid) as bad:
        datasets.register_array("x", "npy", uri, 2, path="/a")
    assert bad.value.details[0]["loc"] == "path"
    with pytest.raises(Invalid, match="invalid dataset registration"):
        datasets.register_array("x y", "npy", uri, 2)
    assert [d["name"] for d in store.find("datasets")] == ["d"]  # the fixture's
