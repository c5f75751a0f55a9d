"""Every built-in operation over an HDF5 dataset and a Zarr array equals NumPy on the same
array: registered in place in uneven row ranges (Datasets.register_array), each task read by
the executor's run_task from the file, as on an agent. One end-to-end run per format through
the embedded cluster is in tests/framework/test_data_roots.py."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from femto.datasets import DataRoots, Datasets
from femto.errors import NotFound
from femto.executor.runner import Outcome, run_task
from femto.jobs.datasets import load_npy
from femto.jobs.operations import get_operation
from femto.store.sqlite import SqliteStore
from tests.executor.conftest import FakeApi
from tests.executor.test_runner import DOUBLE, payload

ROWS, K = 1_003, 7  # 1003 rows in 7 ranges: 144 once, then 143, none dividing evenly
RNG = np.random.default_rng(1717)
X = RNG.uniform(0, 100, ROWS)
Y = RNG.normal(0, 10, ROWS)


def write_hdf5(root: Path) -> Path:
    import h5py

    with h5py.File(root / "arrays.h5", "w") as f:
        f.create_dataset("/group/x", data=X)
        f.create_dataset("/group/y", data=Y, chunks=(100,))  # chunks across the ranges
    return root / "arrays.h5"


def write_zarr(root: Path) -> Path:
    import zarr

    group = zarr.open_group(str(root / "arrays.zarr"), mode="w")
    for name, data in (("x", X), ("y", Y)):
        group.create_array(f"group/{name}", shape=data.shape, chunks=(100,),
                           dtype=data.dtype)[:] = data
    return root / "arrays.zarr"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("formats")
    return {"hdf5": write_hdf5(root), "zarr": write_zarr(root), "root": root}


@pytest.fixture(scope="module")
def datasets(files: dict[str, Path],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Datasets]:
    store = SqliteStore(str(tmp_path_factory.mktemp("store") / "femto.db"))
    yield Datasets(store, DataRoots([files["root"]]))
    store.close()


def refs(datasets: Datasets, files: dict[str, Path], fmt: str,
         which: str) -> list[dict[str, Any]]:
    """The partition refs the scheduler hands executors, of array `which` in `fmt`."""
    name = f"{fmt}-{which}"
    try:
        doc = datasets.get(name)
    except NotFound:
        doc = datasets.register_array(name, fmt, files[fmt].as_uri(), K,
                                      path=f"/group/{which}")
    return [{k: v for k, v in r.items() if k != "host"}
            for r in datasets.refs(doc, "http://127.0.0.1:9")]  # never fetched: files are here


def run(task: dict[str, Any]) -> Any:
    outcome = run_task(task, threading.Event(), lambda fraction: None)
    assert outcome.state is Outcome.FINISHED, outcome.message
    return outcome.result


QUERIES: list[tuple[str, dict[str, Any], Callable[[np.ndarray], Any]]] = [
    ("count", {}, lambda x: {"value": x.size}),
    ("count", {"where": {"min": 10.0, "max": 60.0}},
     lambda x: {"value": int(((x >= 10) & (x < 60)).sum())}),
    ("sum", {}, lambda x: {"value": pytest.approx(x.sum(), rel=1e-12)}),
    ("sum", {"where": {"max": 50.0}}, lambda x: {"value": pytest.approx(x[x < 50].sum(),
                                                                       rel=1e-12)}),
    ("mean", {}, lambda x: {"value": pytest.approx(x.mean(), rel=1e-12)}),
    ("min", {}, lambda x: {"value": x.min()}),
    ("max", {}, lambda x: {"value": x.max()}),
    ("histogram", {"bins": 13, "range": [5.0, 95.0]}, lambda x: {
        "counts": np.histogram(x, 13, (5.0, 95.0))[0].tolist(),
        "edges": pytest.approx(np.histogram(x, 13, (5.0, 95.0))[1].tolist())}),
]


@pytest.mark.parametrize("fmt", ["hdf5", "zarr"])
@pytest.mark.parametrize(("operation", "params", "expected"), QUERIES,
                         ids=[f"{q[0]}{'-where' if 'where' in q[1] else ''}" for q in QUERIES])
def test_every_query_equals_numpy(datasets: Datasets, files: dict[str, Path], fmt: str,
                                  operation: str, params: dict[str, Any],
                                  expected: Callable[[np.ndarray], Any]) -> None:
    op = get_operation(operation)
    partials = [run(payload(operation, [ref], params)).result
                for ref in refs(datasets, files, fmt, "x")]
    assert op.reduce(partials, op.parse_params(params)) == expected(X)


def sliding(x: np.ndarray, window: int) -> np.ndarray:
    return np.array([x[max(0, i - window + 1):i + 1].mean() for i in range(len(x))])


TRANSFORMS: list[tuple[str, dict[str, Any], list[str], Callable[..., np.ndarray]]] = [
    ("real2bin", {}, ["x"], lambda x: np.floor(x).astype(np.int64) % 2),
    ("clip", {"min": 20.0, "max": 70.0}, ["x"], lambda x: np.clip(x, 20.0, 70.0)),
    ("add", {}, ["x", "y"], lambda x, y: x + y),
    ("sliding_mean", {"window": 200}, ["y"], lambda y: sliding(y, 200)),
    ("command", {"argv": [sys.executable, "-c", DOUBLE]}, ["x"], lambda x: x * 2),
]


@pytest.mark.parametrize("fmt", ["hdf5", "zarr"])
@pytest.mark.parametrize(("operation", "params", "inputs", "expected"), TRANSFORMS,
                         ids=[t[0] for t in TRANSFORMS])
def test_every_transform_equals_numpy(datasets: Datasets, files: dict[str, Path], api: FakeApi,
                                      fmt: str, operation: str, params: dict[str, Any],
                                      inputs: list[str],
                                      expected: Callable[..., np.ndarray]) -> None:
    per_input = [refs(datasets, files, fmt, which) for which in inputs]
    for i in range(K):
        run(payload(operation, [r[i] for r in per_input], params, left=per_input[0][:i],
                    output=api.output_url(operation, i)))
    whole = np.concatenate([load_npy(api.output(operation, i)) for i in range(K)])
    arrays = {"x": X, "y": Y}
    np.testing.assert_allclose(whole, expected(*(arrays[w] for w in inputs)), rtol=1e-12)
