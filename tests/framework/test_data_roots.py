"""Datasets registered in place, only under the operator's --data-root: by the URIs of .npy
partitions, or as arrays (POST /v1/datasets with "format"), row ranges of one file read by the
executors where the file lies and served by the scheduler as .npy."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import h5py
import httpx
import numpy as np
import pytest

from femto.service import Service
from tests.framework.helpers import running_service, submit, upload, wait_done
from tests.framework.test_api_errors import assert_error
from tests.services import MongoServer

RNG = np.random.default_rng(17)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data-root")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory,
           root: Path) -> Iterator[tuple[Service, httpx.Client]]:
    with running_service(tmp_path_factory.mktemp("femto"), data_roots=[root]) as served:
        yield served


@pytest.fixture
def api(served: tuple[Service, httpx.Client]) -> httpx.Client:
    return served[1]


def registration(name: str, *paths: Path, length: int = 4) -> dict:
    return {"name": name, "dtype": "float64",
            "partitions": [{"uri": p.as_uri(), "host": "agent-1", "length": length}
                           for p in paths]}


def stored(api: httpx.Client) -> set[str]:
    return {d["name"] for d in api.get("/v1/datasets").json()}


def test_registration_is_refused_without_a_data_root(tmp_path: Path) -> None:
    with running_service(tmp_path) as (_, api):
        shadow = api.post("/v1/datasets", json=registration("shadow", Path("/etc/shadow")))
        assert_error(shadow, 403, "--data-root")
        assert stored(api) == set()


def test_files_under_the_root_are_registered_served_and_computed_on(
        api: httpx.Client, root: Path) -> None:
    values = [np.arange(4.0), np.arange(4.0, 8.0)]
    for i, part in enumerate(values):
        np.save(root / f"good-{i}.npy", part)
    response = api.post("/v1/datasets",
                        json=registration("good", root / "good-0.npy", root / "good-1.npy"))
    assert response.status_code == 201, response.text
    whole = np.load(io.BytesIO(api.get("/v1/datasets/good/data").content))
    np.testing.assert_array_equal(whole, np.concatenate(values))
    job = submit(api, {"name": "sum-good", "operation": "sum", "inputs": ["good"]})
    assert wait_done(api, job["id"])["result"] == {"value": 28.0}


@pytest.mark.parametrize("where", ["/etc/passwd", "{root}/../outside.npy", "{root}-sibling/x"])
def test_paths_outside_the_root_are_403(api: httpx.Client, root: Path, where: str) -> None:
    before = stored(api)
    path = Path(where.format(root=root))
    assert_error(api.post("/v1/datasets", json=registration("out", path)), 403, "--data-root")
    assert stored(api) == before


def test_a_symlink_out_of_the_root_is_refused_at_registration_and_at_read(
        api: httpx.Client, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.npy"
    np.save(outside, np.arange(4.0))
    (root / "escape.npy").symlink_to(outside)
    assert_error(api.post("/v1/datasets", json=registration("escape", root / "escape.npy")),
                 403, "--data-root")
    # A link that pointed inside when registered, and was pointed out afterwards.
    np.save(root / "inside.npy", np.arange(4.0))
    (root / "moving.npy").symlink_to(root / "inside.npy")
    registered = api.post("/v1/datasets", json=registration("moving", root / "moving.npy"))
    assert registered.status_code == 201, registered.text
    (root / "moving.npy").unlink()
    (root / "moving.npy").symlink_to(outside)
    assert_error(api.get("/v1/datasets/moving/partitions/0"), 403, "--data-root")
    assert_error(api.get("/v1/datasets/moving/data"), 403, "--data-root")


def test_only_the_npy_that_was_registered_is_served(api: httpx.Client, root: Path) -> None:
    (root / "text.npy").write_text("root:x:0:0:root:/root:/bin/sh\n")
    np.save(root / "short.npy", np.arange(3.0))
    for name, path in (("text", root / "text.npy"), ("short", root / "short.npy")):
        assert api.post("/v1/datasets", json=registration(name, path)).status_code == 201
    assert_error(api.get("/v1/datasets/text/partitions/0"), 422, "not a valid .npy")
    assert_error(api.get("/v1/datasets/text/data"), 422, "not a valid .npy")
    assert_error(api.get("/v1/datasets/short/partitions/0"), 422, "registered as (4,)")
    assert_error(api.get("/v1/datasets/gone/data"), 404, "gone")


@pytest.mark.parametrize("uri", ["file:///a%00b", "file://{root}/x%00.npy"])
def test_a_nul_byte_in_a_uri_is_a_422_naming_it(api: httpx.Client, root: Path, uri: str) -> None:
    before = stored(api)
    body = {"name": "nul", "dtype": "float64",
            "partitions": [{"uri": uri.format(root=root), "host": "agent-1", "length": 1}]}
    assert_error(api.post("/v1/datasets", json=body), 422, "NUL byte")
    assert stored(api) == before


def register(api: httpx.Client, name: str, fmt: str, file: Path, partitions: int,
             **extra: str) -> httpx.Response:
    return api.post("/v1/datasets", json={"name": name, "format": fmt, "uri": file.as_uri(),
                                          "partitions": partitions, **extra})


def fetch(api: httpx.Client, url: str) -> np.ndarray:
    response = api.get(url)
    assert response.status_code == 200, response.text
    return np.load(io.BytesIO(response.content))


def test_an_npy_is_split_into_row_ranges_served_and_computed_on_in_place(
        api: httpx.Client, root: Path) -> None:
    data = RNG.uniform(0, 100, 1_003)
    np.save(root / "rows.npy", data)
    response = register(api, "rows", "npy", root / "rows.npy", 4)
    assert response.status_code == 201, response.text
    assert response.json() == {"name": "rows", "dtype": "<f8", "shape": [1_003],
                               "partitions": 4, "closed": False}
    for i, part in enumerate(np.array_split(data, 4)):
        np.testing.assert_array_equal(fetch(api, f"/v1/datasets/rows/partitions/{i}"), part)
    np.testing.assert_array_equal(fetch(api, "/v1/datasets/rows/data"), data)
    counts, _ = np.histogram(data, 7, (0.0, 100.0))
    histogram = submit(api, {"name": "h", "operation": "histogram", "inputs": ["rows"],
                             "params": {"bins": 7, "range": [0.0, 100.0]}})
    assert wait_done(api, histogram["id"])["result"]["counts"] == counts.tolist()
    smooth = submit(api, {"name": "s", "operation": "sliding_mean", "inputs": ["rows"],
                          "params": {"window": 300}, "output": "rows-smooth"})
    assert wait_done(api, smooth["id"])["state"] == "FINISHED"
    expected = [data[max(0, i - 299):i + 1].mean() for i in range(len(data))]
    np.testing.assert_allclose(fetch(api, "/v1/datasets/rows-smooth/data"), expected,
                               rtol=1e-12)


def test_a_two_dimensional_npy_keeps_its_rows_whole(api: httpx.Client, root: Path) -> None:
    data = np.arange(30.0).reshape(10, 3)
    np.save(root / "grid.npy", data)
    response = register(api, "grid", "npy", root / "grid.npy", 3, host="agent-1")
    assert response.status_code == 201, response.text
    assert response.json()["shape"] == [10, 3]
    np.testing.assert_array_equal(fetch(api, "/v1/datasets/grid/partitions/2"), data[7:])


@pytest.mark.parametrize("where", ["/etc/passwd", "{root}/../outside.npy"])
def test_an_array_outside_the_roots_is_403(api: httpx.Client, root: Path, where: str) -> None:
    response = register(api, "out", "npy", Path(where.format(root=root)), 2)
    assert_error(response, 403, "--data-root")
    assert api.get("/v1/datasets/out").status_code == 404


@pytest.mark.parametrize(("change", "status", "named"), [
    ({"format": "csv"}, 422, "format"),
    ({"partitions": 0}, 422, "partitions"),
    ({"partitions": "2"}, 422, "partitions"),
    ({"partitions": 11}, 422, "cannot split 10 rows into 11"),
    ({"path": "/x"}, 422, "path"),
    ({"uri": "http://example.com/a.npy"}, 422, "file:///"),
    ({"uri": "{root}/missing.npy"}, 422, "missing.npy"),
    ({"uri": "{root}/text.npy"}, 422, "not a readable .npy"),
    ({"host": ""}, 422, "host"),
    ({"color": "red"}, 422, "color"),
    ({"name": "small"}, 409, "exists"),
])
def test_a_bad_registration_is_a_4xx_naming_what_is_wrong(
        api: httpx.Client, root: Path, change: dict, status: int, named: str) -> None:
    np.save(root / "small.npy", np.arange(10.0))
    (root / "text.npy").write_text("not an array")
    if api.get("/v1/datasets/small").status_code == 404:
        assert register(api, "small", "npy", root / "small.npy", 2).status_code == 201
    uri = change.get("uri", "{root}/small.npy")
    body = {"name": "bad", "format": "npy", "partitions": 2,
            "uri": Path(uri.format(root=root)).as_uri() if uri.startswith("{") else uri}
    body |= {k: v for k, v in change.items() if k != "uri"}
    assert_error(api.post("/v1/datasets", json=body), status, named)
    assert api.get("/v1/datasets/bad").status_code == 404


def test_a_file_changed_since_registration_is_refused_when_read(
        api: httpx.Client, root: Path) -> None:
    np.save(root / "changing.npy", np.arange(8.0))
    assert register(api, "changing", "npy", root / "changing.npy", 2).status_code == 201
    np.save(root / "changing.npy", np.arange(8, dtype=np.int32))
    assert_error(api.get("/v1/datasets/changing/partitions/1"), 422, "registered as")
    np.save(root / "changing.npy", np.arange(5.0))
    assert_error(api.get("/v1/datasets/changing/data"), 422, "no rows 4:8")


def write_array(root: Path, fmt: str, data: np.ndarray) -> tuple[Path, str]:
    """`data` as /obs/values of an HDF5 file or a Zarr group, chunked across the ranges."""
    if fmt == "hdf5":
        with h5py.File(root / "obs.h5", "w") as f:
            f.create_dataset("/obs/values", data=data, chunks=(97,))
        return root / "obs.h5", "/obs/values"
    import zarr

    group = zarr.open_group(str(root / "obs.zarr"), mode="w")
    group.create_array("obs/values", shape=data.shape, chunks=(97,), dtype=data.dtype)[:] = data
    return root / "obs.zarr", "obs/values"


@pytest.mark.parametrize("fmt", ["hdf5", "zarr"])
def test_hdf5_and_zarr_arrays_are_computed_on_in_place(api: httpx.Client, root: Path,
                                                       fmt: str) -> None:
    data = RNG.uniform(0, 100, 2_001)
    path, inner = write_array(root, fmt, data)
    response = register(api, f"obs-{fmt}", fmt, path, 5, path=inner)
    assert response.status_code == 201, response.text
    assert response.json() == {"name": f"obs-{fmt}", "dtype": "<f8", "shape": [2_001],
                               "partitions": 5, "closed": False}
    np.testing.assert_array_equal(fetch(api, f"/v1/datasets/obs-{fmt}/data"), data)
    mean = submit(api, {"name": "m", "operation": "mean", "inputs": [f"obs-{fmt}"]})
    assert wait_done(api, mean["id"])["result"]["value"] == pytest.approx(data.mean(), rel=1e-12)
    smooth = submit(api, {"name": "s", "operation": "sliding_mean", "inputs": [f"obs-{fmt}"],
                          "params": {"window": 450}, "output": f"obs-{fmt}-smooth"})
    assert wait_done(api, smooth["id"])["state"] == "FINISHED"
    expected = [data[max(0, i - 449):i + 1].mean() for i in range(len(data))]
    np.testing.assert_allclose(fetch(api, f"/v1/datasets/obs-{fmt}-smooth/data"), expected,
                               rtol=1e-12)


@pytest.mark.parametrize(("fmt", "inner", "named"), [
    ("hdf5", None, "path"),
    ("hdf5", "/obs/nothing", "no dataset at '/obs/nothing'"),
    ("hdf5", "/obs", "no dataset at '/obs'"),
    ("zarr", "obs", "no zarr array at 'obs'"),
])
def test_an_array_path_that_names_no_array_is_a_422(api: httpx.Client, root: Path, fmt: str,
                                                    inner: str | None, named: str) -> None:
    path, _ = write_array(root, fmt, np.arange(100.0))
    extra = {"path": inner} if inner else {}
    assert_error(register(api, "nothing", fmt, path, 2, **extra), 422, named)


@pytest.mark.parametrize(("fmt", "module"), [("hdf5", "h5py"), ("zarr", "zarr")])
def test_a_format_whose_extra_is_missing_is_a_422_naming_the_pip_command(
        api: httpx.Client, root: Path, monkeypatch: pytest.MonkeyPatch, fmt: str,
        module: str) -> None:
    # The library is installed in the test environment; a None entry in sys.modules makes
    # importing it fail here as it does where the extra was not installed.
    monkeypatch.setitem(sys.modules, module, None)
    response = register(api, "no-extra", fmt, root / "any", 2, path="/a")
    assert_error(response, 422, f"pip install 'femto[{fmt}]'")


def test_a_transform_s_output_stored_as_hdf5_is_read_as_hdf5(
        served: tuple[Service, httpx.Client], root: Path) -> None:
    service, api = served
    data = RNG.uniform(-50, 50, 1_001)
    np.save(root / "signal.npy", data)
    assert register(api, "signal", "npy", root / "signal.npy", 3).status_code == 201
    job = submit(api, {"name": "bits", "operation": "real2bin", "inputs": ["signal"],
                       "output": "bits-h5", "output_format": "hdf5"})
    assert wait_done(api, job["id"])["state"] == "FINISHED"
    bits = np.floor(data).astype(np.int64) % 2
    np.testing.assert_array_equal(fetch(api, "/v1/datasets/bits-h5/data"), bits)
    np.testing.assert_array_equal(fetch(api, "/v1/datasets/bits-h5/partitions/2"),
                                  np.array_split(bits, 3)[2])
    assert service.datasets is not None and service.store is not None
    parts = service.datasets.get("bits-h5")["partitions"]
    assert {(p["format"], p["path"], p["blob"]) for p in parts} == {
        ("hdf5", "/data", parts[0]["blob"])}  # one file, read in place by row range
    with h5py.File(service.store.blob_path(parts[0]["blob"]), "r") as f:
        np.testing.assert_array_equal(f["/data"][...], bits)
    total = submit(api, {"name": "sum", "operation": "sum", "inputs": ["bits-h5"]})
    assert wait_done(api, total["id"])["result"] == {"value": float(bits.sum())}


def test_output_format_is_refused_for_a_query_and_without_h5py(
        api: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"name": "q", "operation": "sum", "inputs": ["rows"], "output_format": "hdf5"}
    assert_error(api.post("/v1/jobs", json=spec), 422, "output_format", "query")
    monkeypatch.setitem(sys.modules, "h5py", None)  # as where the extra is not installed
    spec = {"name": "t", "operation": "real2bin", "inputs": ["rows"], "output": "never",
            "output_format": "hdf5"}
    assert_error(api.post("/v1/jobs", json=spec), 422, "output_format",
                 "pip install 'femto[hdf5]'")


def test_an_hdf5_output_kept_in_mongodb_reads_by_row_range(
        tmp_path: Path, mongo: MongoServer) -> None:
    # MongoDB keeps blobs in GridFS, in no local file: executors and clients read the rows
    # through the scheduler, which must find them in the one HDF5 blob.
    data = RNG.normal(size=(101, 2))
    with running_service(tmp_path / "femto", store=mongo.url) as (service, api):
        upload(api, "signal", data, 4)
        job = submit(api, {"name": "bits", "operation": "real2bin", "inputs": ["signal"],
                           "output": "bits-h5", "output_format": "hdf5"})
        assert wait_done(api, job["id"])["state"] == "FINISHED"
        bits = np.floor(data).astype(np.int64) % 2
        parts = np.array_split(bits, 4)
        assert service.datasets is not None and service.store is not None
        stored = service.datasets.get("bits-h5")["partitions"]
        assert {(p["format"], p["blob"]) for p in stored} == {("hdf5", stored[0]["blob"])}
        assert service.store.blob_path(stored[0]["blob"]) is None  # only in GridFS
        for i, part in enumerate(parts):
            np.testing.assert_array_equal(fetch(api, f"/v1/datasets/bits-h5/partitions/{i}"),
                                          part)
        np.testing.assert_array_equal(fetch(api, "/v1/datasets/bits-h5/data"), bits)
        total = submit(api, {"name": "sum", "operation": "sum", "inputs": ["bits-h5"]})
        assert wait_done(api, total["id"])["result"] == {"value": float(bits.sum())}
