"""Datasets registered by URI: only files under the operator's --data-root, only .npy."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from femto.service import Service
from tests.framework.helpers import running_service, submit, wait_done
from tests.framework.test_api_errors import assert_error


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
