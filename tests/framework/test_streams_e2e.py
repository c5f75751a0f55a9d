"""Streams end to end on a live scheduler (embedded Mesos, real executors): appends to a
dataset, standing sliding_mean jobs over them, bad appends refused with nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from femto.service import Service
from tests.framework.helpers import fetch, npy, running_service, submit, upload, wait_done
from tests.waiting import wait_for


def sliding_mean(x: np.ndarray, window: int) -> np.ndarray:
    """NumPy's answer over the whole array: y[i] = mean(x[max(0, i-W+1) : i+1])."""
    return np.array([np.mean(x[max(0, i - window + 1): i + 1]) for i in range(len(x))])


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    # Near zero a window's sum keeps an absolute error of its terms' rounding.
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-14)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, httpx.Client]]:
    with running_service(tmp_path_factory.mktemp("femto")) as running:
        yield running


@pytest.fixture
def api(live: tuple[Service, httpx.Client]) -> httpx.Client:
    return live[1]


def append(api: httpx.Client, name: str, array: np.ndarray, **params: Any) -> httpx.Response:
    return api.post(f"/v1/datasets/{name}/partitions", content=npy(array), params=params)


def standing(api: httpx.Client, name: str, source: str, window: int) -> dict[str, Any]:
    return submit(api, {"name": name, "operation": "sliding_mean", "inputs": [source],
                        "output": f"{name}-out", "params": {"window": window},
                        "standing": True})


def test_a_hundred_random_appends_equal_numpy_over_the_concatenation(
        api: httpx.Client) -> None:
    rng = np.random.default_rng(16)
    window = 9
    # Starts empty; sizes 0, under the window, and over it.
    upload(api, "stream", np.empty(0), 1)
    job = standing(api, "smooth", "stream", window)
    chunks = [rng.normal(size=int(n)) for n in rng.choice([0, 1, 3, 8, 20, 57], 100)]
    seen = 0
    for i, chunk in enumerate(chunks):
        response = append(api, "stream", chunk)
        assert response.status_code == 201, response.text
        assert response.json()["partitions"] == i + 2
        if i % 25 == 24:
            # The output grows in input order: whatever is readable is a prefix of the
            # answer, and it never shrinks.
            done = api.get("/v1/datasets/smooth-out")
            if done.status_code == 200:
                assert done.json()["closed"] is False
                prefix = fetch(api, "smooth-out")
                assert len(prefix) >= seen
                seen = len(prefix)
                whole = np.concatenate(chunks[: i + 1])
                assert_close(prefix, sliding_mean(whole, window)[:seen])
    assert api.get(f"/v1/jobs/{job['id']}").json()["state"] in ("PENDING", "RUNNING")
    closed = api.post("/v1/datasets/stream/close")
    assert closed.status_code == 200 and closed.json()["closed"] is True
    done = wait_done(api, job["id"])
    assert done["state"] == "FINISHED", done
    assert done["result"] == {"dataset": "smooth-out"}
    assert done["tasks"]["total"] == done["tasks"]["finished"] == 101
    data = np.concatenate(chunks)
    assert_close(fetch(api, "smooth-out"), sliding_mean(data, window))
    out = api.get("/v1/datasets/smooth-out").json()
    assert out["closed"] is True and out["partitions"] == 101 and out["shape"] == [len(data)]
    # Closed: no more appends, to the input or the output.
    assert append(api, "stream", np.ones(3)).status_code == 409
    assert append(api, "smooth-out", np.ones(3)).status_code == 409


def blobs(service: Service) -> list[Path]:
    return sorted(p for p in (service.options.state_dir / "blobs").rglob("*") if p.is_file())


def test_bad_appends_are_4xx_naming_the_fault_with_nothing_stored(
        live: tuple[Service, httpx.Client]) -> None:
    service, api = live
    upload(api, "grid", np.zeros((6, 3)), 2)
    before, stored = api.get("/v1/datasets/grid").json(), blobs(service)
    assert before["closed"] is False
    cases = [
        (np.zeros((2, 3), dtype=np.int64), {}, 422, "dtype <i8 does not match"),
        (np.zeros((2, 4)), {}, 422, "each row must have shape [3]"),
        (np.float64(1.0), {}, 422, "at least one axis"),
        (None, {}, 400, "not a valid .npy"),
        (np.zeros((2, 3)), {"index": 5}, 409, "the next append is partition 2"),
    ]
    for array, params, code, message in cases:
        body = b"not an npy at all" if array is None else npy(np.asarray(array))
        response = api.post("/v1/datasets/grid/partitions", content=body, params=params)
        assert response.status_code == code, response.text
        assert message in response.json()["error"]
    missing = append(api, "nowhere", np.zeros(2))
    assert missing.status_code == 404 and "nowhere" in missing.json()["error"]
    assert api.post("/v1/datasets/grid/close").json()["closed"] is True
    closed = append(api, "grid", np.zeros((2, 3)))
    assert closed.status_code == 409 and "is closed" in closed.json()["error"]
    after = api.get("/v1/datasets/grid").json()
    assert {**after, "closed": False} == before
    assert blobs(service) == stored
    # Closing again is no change.
    assert api.post("/v1/datasets/grid/close").status_code == 200


def test_an_append_retried_with_its_index_is_stored_once(api: httpx.Client) -> None:
    upload(api, "retried", np.arange(4.0), 1)
    first = append(api, "retried", np.arange(3.0), index=1)
    again = append(api, "retried", np.arange(3.0), index=1)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["partitions"] == 2
    other = append(api, "retried", np.arange(5.0), index=1)
    assert other.status_code == 409 and "holds other data" in other.json()["error"]
    np.testing.assert_array_equal(fetch(api, "retried"), np.r_[np.arange(4.0), np.arange(3.0)])


def test_delete_ends_a_standing_job_and_closes_its_output(api: httpx.Client) -> None:
    upload(api, "ticks", np.arange(10.0), 2)
    job = standing(api, "cut", "ticks", 3)
    assert append(api, "ticks", np.arange(5.0)).status_code == 201
    wait_for(lambda: api.get(f"/v1/jobs/{job['id']}").json()["tasks"]["finished"] == 3,
             60, "the three partitions done")
    cancelled = api.delete(f"/v1/jobs/{job['id']}").json()
    assert cancelled["state"] == "CANCELLED"
    out = api.get("/v1/datasets/cut-out").json()
    assert out["closed"] is True and out["partitions"] == 3
    data = np.r_[np.arange(10.0), np.arange(5.0)]
    assert_close(fetch(api, "cut-out"), sliding_mean(data, 3))
    # The input stays open, but the ended job takes nothing more.
    assert append(api, "ticks", np.arange(2.0)).status_code == 201
    assert api.get(f"/v1/jobs/{job['id']}").json()["tasks"]["total"] == 3


def test_standing_is_for_a_transform_of_one_input(api: httpx.Client) -> None:
    upload(api, "q", np.arange(4.0), 1)
    response = api.post("/v1/jobs", json={"name": "s", "operation": "sum", "inputs": ["q"],
                                          "standing": True})
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == "standing"


def test_a_standing_job_over_a_closed_dataset_finishes_once_it_is_drained(
        api: httpx.Client) -> None:
    upload(api, "ended", np.arange(12.0), 3)
    assert api.post("/v1/datasets/ended/close").status_code == 200
    done = wait_done(api, standing(api, "late", "ended", 4)["id"])
    assert done["state"] == "FINISHED", done
    assert_close(fetch(api, "late-out"), sliding_mean(np.arange(12.0), 4))
