"""Bad input gets a 4xx with a JSON error naming the problem, and stores nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from femto.client import Client
from femto.jobs.limits import Limits
from femto.service import Service
from tests.framework.helpers import npy, running_service, submit, upload, wait_done

GOOD = {"name": "ok", "operation": "count", "params": {}, "inputs": ["d"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, httpx.Client]]:
    with running_service(tmp_path_factory.mktemp("femto")) as (service, client):
        upload(client, "d", np.arange(100, dtype=np.float64), 4)
        yield service, client


@pytest.fixture
def api(served: tuple[Service, httpx.Client]) -> httpx.Client:
    return served[1]


def nothing_stored(api: httpx.Client, jobs_before: int, datasets_before: int) -> bool:
    return (len(api.get("/v1/jobs").json()) == jobs_before
            and len(api.get("/v1/datasets").json()) == datasets_before)


def assert_error(response: httpx.Response, status: int, *mentions: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "details"}
    text = (body["error"] + " " + str(body["details"])).lower()
    for word in mentions:
        assert word.lower() in text, f"{word!r} not named in {body}"
    return body


@pytest.mark.parametrize(
    ("body", "status", "mentions"),
    [
        (b"{not json", 400, ["json"]),
        (b"[1, 2]", 422, []),
        (b'{"name": "x"}', 422, ["operation"]),
        (b'{"name": "bad name!", "operation": "count", "inputs": ["d"]}', 422, ["name"]),
        (b'{"name": "x", "operation": "count", "inputs": ["d"], "colour": 1}', 422, ["colour"]),
        (b'{"name": "x", "operation": "teleport", "inputs": ["d"]}', 422, ["teleport"]),
        (b'{"name": "x", "operation": "histogram", "params": {"bins": "many", '
         b'"range": [0, 1]}, "inputs": ["d"]}', 422, ["bins"]),
        (b'{"name": "x", "operation": "add", "inputs": ["d"]}', 422, ["inputs"]),
        (b'{"name": "x", "operation": "count", "inputs": ["nope"]}', 404, ["nope"]),
        (b'{"name": "x", "operation": "count", "inputs": ["d"], "id": "not-a-uuid"}', 422,
         ["id"]),
        (b'{"name": "x", "operation": "count", "inputs": ["d"], "max_retries": -1}', 422,
         ["max_retries"]),
        (b'{"name": "x", "operation": "histogram", "params": {"bins": 1000000000000, '
         b'"range": [0, 1]}, "inputs": ["d"]}', 422, ["params.bins", "limit of 100000"]),
        (b'{"name": "x", "operation": "sliding_mean", "params": {"window": 1000000000},'
         b' "inputs": ["d"]}', 422, ["params.window", "limit"]),
        (b'{"name": "x", "operation": "count", "inputs": ["d"], "resources": {"mem": 1e308}}',
         422, ["resources.mem", "limit"]),
        (b'{"name": "x", "operation": "count", "inputs": ["d"], "resources": {"cpus": 1000}}',
         422, ["resources.cpus", "limit of 256"]),
    ],
)
def test_bad_job_specs(api: httpx.Client, body: bytes, status: int, mentions: list[str]) -> None:
    jobs, datasets = len(api.get("/v1/jobs").json()), len(api.get("/v1/datasets").json())
    response = api.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert_error(response, status, *mentions)
    assert nothing_stored(api, jobs, datasets)


def test_duplicate_keys_are_400_naming_the_key(api: httpx.Client) -> None:
    jobs, datasets = len(api.get("/v1/jobs").json()), len(api.get("/v1/datasets").json())
    body = b'{"name": "x", "operation": "count", "inputs": ["d"], "params": {}, "name": "y"}'
    assert_error(api.post("/v1/jobs", content=body), 400, "duplicate key 'name'")
    nested = b'{"name": "x", "operation": "histogram", "inputs": ["d"],' \
        b' "params": {"bins": 5, "bins": 500, "range": [0, 1]}}'
    assert_error(api.post("/v1/jobs", content=nested), 400, "duplicate key 'bins'")
    assert nothing_stored(api, jobs, datasets)


@pytest.mark.parametrize("depth", [33, 100_000])
def test_deep_nesting_is_422_naming_the_limit(api: httpx.Client, depth: int) -> None:
    jobs, datasets = len(api.get("/v1/jobs").json()), len(api.get("/v1/datasets").json())
    deep = b"[" * depth + b"]" * depth
    body = b'{"name": "x", "operation": "count", "inputs": ["d"], "params": {"p": ' + deep + b"}}"
    assert_error(api.post("/v1/jobs", content=body), 422, "nested", "32")
    assert_error(api.post("/v1/datasets", content=deep), 422, "nested")
    assert nothing_stored(api, jobs, datasets)


def test_oversized_job_spec_is_413(api: httpx.Client) -> None:
    huge = b'{"name": "x", "operation": "count", "inputs": ["d"], "params": {"p": "' + \
        b"x" * (2 << 20) + b'"}}'
    assert_error(api.post("/v1/jobs", content=huge), 413, "limit")


def test_bad_uploads(api: httpx.Client) -> None:
    datasets = len(api.get("/v1/datasets").json())
    assert_error(api.put("/v1/datasets/junk", content=b"this is not numpy"), 400, "npy")
    pickled = npy(np.array([{"a": 1}], dtype=object))
    assert_error(api.put("/v1/datasets/objects", content=pickled), 400, "npy")
    structured = npy(np.zeros(3, dtype=[("a", "<f8"), ("b", "<i4")]))
    assert_error(api.put("/v1/datasets/records", content=structured), 400, "not supported")
    claims_2_40 = npy(np.zeros(0))
    claims_2_40 = claims_2_40.replace(b"'shape': (0,)", b"'shape': (1099511627776,)")
    assert_error(api.put("/v1/datasets/huge", content=claims_2_40), 400, "bytes of data")
    assert_error(api.put("/v1/datasets/bad name", content=npy(np.arange(3.0))), 422, "name")
    assert_error(api.put("/v1/datasets/d", content=npy(np.arange(3.0))), 409, "exists")
    assert_error(api.put("/v1/datasets/toomany", params={"partitions": 0},
                         content=npy(np.arange(3.0))), 422, "partitions")
    assert_error(api.put("/v1/datasets/toomany", params={"partitions": 20_000},
                         content=npy(np.arange(30_000.0))), 422, "partitions", "limit of 10000")
    many = {"name": "many", "dtype": "float64", "partitions": [
        {"uri": f"file:///data/{i}.npy", "host": "a", "length": 1} for i in range(10_001)]}
    assert_error(api.post("/v1/datasets", json=many), 422, "partitions", "limit of 10000")
    assert len(api.get("/v1/datasets").json()) == datasets


def test_unknown_things_are_404(api: httpx.Client) -> None:
    assert_error(api.get(f"/v1/jobs/{uuid.uuid4()}"), 404, "not found")
    assert_error(api.get(f"/v1/jobs/{uuid.uuid4()}/tasks"), 404, "not found")
    assert_error(api.delete(f"/v1/jobs/{uuid.uuid4()}"), 404, "not found")
    assert_error(api.get("/v1/datasets/nope"), 404, "nope")
    assert_error(api.get("/v1/datasets/nope/data"), 404, "nope")
    assert_error(api.delete("/v1/datasets/nope"), 404, "nope")
    assert_error(api.get("/v1/no-such-route"), 404)


def test_bad_state_filter_is_422(api: httpx.Client) -> None:
    assert_error(api.get("/v1/jobs", params={"state": "SLEEPING"}), 422, "state")


def test_bad_registration(api: httpx.Client) -> None:
    assert_error(api.post("/v1/datasets", json={"name": "r", "dtype": "float64",
                                                "partitions": [{"uri": "http://x/y.npy",
                                                                "host": "a", "length": 3}]}),
                 422, "uri")
    assert_error(api.post("/v1/datasets", json={"name": "r", "dtype": "nonsense",
                                                "partitions": []}), 422, "dtype")


def test_idempotent_submission(api: httpx.Client) -> None:
    job_id = str(uuid.uuid4())
    first = submit(api, {**GOOD, "id": job_id})
    again = api.post("/v1/jobs", json={**GOOD, "id": job_id})
    assert again.status_code == 200 and again.json()["id"] == first["id"] == job_id
    other = api.post("/v1/jobs", json={**GOOD, "id": job_id, "name": "other"})
    assert_error(other, 409, job_id)
    assert wait_done(api, job_id)["result"] == {"value": 100}


def test_a_dataset_in_use_cannot_be_deleted_and_cancel_kills(api: httpx.Client) -> None:
    upload(api, "slow", np.arange(8, dtype=np.float64), 2)
    job = submit(api, {"name": "sleepy", "operation": "command", "inputs": ["slow"],
                       "params": {"argv": ["sh", "-c", "sleep 60; cat"]}})
    assert_error(api.delete("/v1/datasets/slow"), 409, "running job")
    cancelled = api.delete(f"/v1/jobs/{job['id']}").json()
    assert cancelled["state"] == "CANCELLED"
    assert wait_done(api, job["id"])["state"] == "CANCELLED"
    assert api.delete("/v1/datasets/slow").status_code == 204


def test_token_guards_v1_and_uploads_have_a_limit(tmp_path: Path) -> None:
    with running_service(tmp_path, api_token="s3cret",
                         limits=Limits(upload_bytes=1000)) as (service, client):
        refused = client.get("/v1/jobs")
        assert_error(refused, 401, "token")
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert_error(client.get("/v1/jobs", headers={"Authorization": "Bearer s3cre"}), 401)
        auth = {"Authorization": "Bearer s3cret"}
        assert client.get("/v1/jobs", headers=auth).status_code == 200
        assert client.get("/health").status_code == 200
        big = client.put("/v1/datasets/big", content=npy(np.zeros(1000)), headers=auth)
        assert_error(big, 413, "limit")
        assert service.store is not None and service.store.get("datasets", "big") is None


def test_non_finite_results_are_json_null(api: httpx.Client) -> None:
    upload(api, "with-nan", np.array([1.0, np.nan, 3.0, 4.0]), 2)
    job = submit(api, {"name": "nan-sum", "operation": "sum", "inputs": ["with-nan"]})
    done = wait_done(api, job["id"])
    assert done["state"] == "FINISHED" and done["result"] == {"value": None}


def test_the_job_list_is_paginated_and_leaves_results_out(api: httpx.Client) -> None:
    ids = [submit(api, {**GOOD, "name": f"page-{i}"})["id"] for i in range(5)]
    total = int(api.get("/v1/jobs").headers["x-total-count"])
    seen: list[str] = []
    url: str | None = "/v1/jobs?limit=2"
    while url is not None:
        page = api.get(url)
        assert page.status_code == 200 and len(page.json()) <= 2
        assert all("result" not in job and "state" in job for job in page.json())
        seen += [job["id"] for job in page.json()]
        link = page.headers.get("link")
        url = link.split(";")[0].strip("<>") if link else None
    assert len(seen) == len(set(seen)) == total and set(ids) <= set(seen)
    assert seen[:5] == ids[::-1]  # newest first
    assert wait_done(api, ids[0])["result"] == {"value": 100}
    assert_error(api.get("/v1/jobs", params={"limit": 0}), 422, "limit")
    assert_error(api.get("/v1/jobs", params={"limit": 10_001}), 422, "limit")
    for cursor in ("not-a-cursor", "cDE6LTE", "cDE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"):
        assert_error(api.get("/v1/jobs", params={"cursor": cursor}), 422, "cursor")


def test_the_cli_client_follows_every_page(served: tuple[Service, httpx.Client]) -> None:
    service, api = served
    everything = [job["id"] for job in api.get("/v1/jobs").json()]
    client = Client(service.url)
    try:
        assert [job["id"] for job in client.pages("/v1/jobs", params={"limit": 2})] \
            == everything
    finally:
        client.close()


def test_without_tokens_jobs_have_no_owner(api: httpx.Client) -> None:
    assert submit(api, {**GOOD, "name": "unowned"})["owner"] is None
