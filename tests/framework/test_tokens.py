"""Named tokens with roles: each client sees what its role allows, a submitter its own jobs."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI

from femto.api.app import create_app
from femto.auth import Role, Tokens
from femto.service import Service
from tests.framework.helpers import npy, running_service
from tests.framework.test_api_errors import assert_error
from tests.waiting import wait_for

TOKENS = {"alice": ("submit", "alice-token-0123456789"), "bob": ("submit", "bob-token-0123456789"),
          "ops": ("read", "ops-token-0123456789"), "root": ("admin", "root-token-0123456789"),
          "runner": ("command", "runner-token-0123456789")}
SLEEPY = {"name": "sleepy", "operation": "command", "inputs": ["d"],
          "params": {"argv": ["sh", "-c", "sleep 30; cat"]}}
COUNT = {"name": "count", "operation": "count", "inputs": ["d"]}


def as_(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][1]}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, httpx.Client]]:
    state = tmp_path_factory.mktemp("femto")
    token_file = state / "tokens"
    token_file.write_text("# name role token\n" + "".join(
        f"{name} {role} {token}\n" for name, (role, token) in TOKENS.items()))
    with running_service(state, token_file=token_file) as (service, api):
        created = api.put("/v1/datasets/d", content=_npy(), headers=as_("alice"))
        assert created.status_code == 201, created.text
        yield service, api


def _npy() -> bytes:
    return npy(np.arange(10.0))


def test_a_token_is_needed_and_must_be_known(served: tuple[Service, httpx.Client]) -> None:
    _, api = served
    assert_error(api.get("/v1/jobs"), 401, "token")
    assert_error(api.get("/v1/jobs", headers={"Authorization": "Bearer nobody-0123456789"}),
                 401)


def test_a_submitter_sees_and_cancels_only_its_own_jobs(
        served: tuple[Service, httpx.Client]) -> None:
    _, api = served
    submitted = api.post("/v1/jobs", json=SLEEPY, headers=as_("alice"))
    assert submitted.status_code == 201, submitted.text
    job = submitted.json()
    assert job["owner"] == "alice"
    for path in (f"/v1/jobs/{job['id']}", f"/v1/jobs/{job['id']}/tasks"):
        assert_error(api.get(path, headers=as_("bob")), 404, "not found")
    assert job["id"] not in {j["id"] for j in api.get("/v1/jobs", headers=as_("bob")).json()}
    assert_error(api.delete(f"/v1/jobs/{job['id']}", headers=as_("bob")), 404)
    assert api.get(f"/v1/jobs/{job['id']}", headers=as_("alice")).json()["state"] != "CANCELLED"
    # The same id from another owner is taken, whatever the spec.
    again = {**SLEEPY, "id": job["id"]}
    assert_error(api.post("/v1/jobs", json=again, headers=as_("bob")), 409, job["id"])
    assert api.post("/v1/jobs", json=again, headers=as_("alice")).status_code == 200
    mine = api.get("/v1/jobs", headers=as_("alice")).json()
    assert job["id"] in {j["id"] for j in mine} and {j["owner"] for j in mine} == {"alice"}
    cancelled = api.delete(f"/v1/jobs/{job['id']}", headers=as_("alice")).json()
    assert cancelled["state"] == "CANCELLED"


def test_read_sees_everything_and_changes_nothing(
        served: tuple[Service, httpx.Client]) -> None:
    _, api = served
    job = api.post("/v1/jobs", json=COUNT, headers=as_("bob")).json()
    assert api.get(f"/v1/jobs/{job['id']}", headers=as_("ops")).status_code == 200
    assert job["id"] in {j["id"] for j in api.get("/v1/jobs", headers=as_("ops")).json()}
    datasets = api.get("/v1/datasets", headers=as_("ops")).json()
    assert_error(api.post("/v1/jobs", json=COUNT, headers=as_("ops")), 403, "read")
    assert_error(api.put("/v1/datasets/e", content=_npy(), headers=as_("ops")), 403, "read")
    assert_error(api.delete(f"/v1/jobs/{job['id']}", headers=as_("ops")), 403)
    assert api.get("/v1/datasets", headers=as_("ops")).json() == datasets


def test_admin_sees_and_cancels_anyones(served: tuple[Service, httpx.Client]) -> None:
    _, api = served
    job = api.post("/v1/jobs", json={**SLEEPY, "id": str(uuid.uuid4())},
                   headers=as_("bob")).json()
    assert api.get(f"/v1/jobs/{job['id']}", headers=as_("root")).status_code == 200
    assert api.delete(f"/v1/jobs/{job['id']}", headers=as_("root")).json()["state"] \
        == "CANCELLED"


def test_beyond_loopback_command_needs_its_role(served: tuple[Service, httpx.Client]) -> None:
    service, _ = served
    tokens = Tokens.from_file(service.options.token_file)  # type: ignore[arg-type]
    # The same service's API as it is built for a non-loopback --listen, served here on
    # loopback: tests never listen beyond it.
    exposed = create_app(service, tokens=tokens, attempt_key=service.attempt_key,
                         exposed=True)
    with serving(exposed) as client:
        for name in ("alice", "ops"):
            assert_error(client.post("/v1/jobs", json=SLEEPY, headers=as_(name)), 403)
        refused = client.post("/v1/jobs", json=SLEEPY, headers=as_("alice"))
        assert "role command or admin" in refused.json()["error"]
        assert client.post("/v1/jobs", json=COUNT, headers=as_("alice")).status_code == 201
        for name in ("runner", "root"):
            job = client.post("/v1/jobs", json=SLEEPY, headers=as_(name))
            assert job.status_code == 201, job.text
            client.delete(f"/v1/jobs/{job.json()['id']}", headers=as_(name))


@contextmanager
def serving(app: FastAPI) -> Iterator[httpx.Client]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, what="the exposed API to serve")
        port = sock.getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.mark.parametrize(("text", "match"), [
    ("alice submit short\n", "at least 16"),
    ("alice boss alice-token-0123456789\n", "unknown role 'boss'"),
    ("a submit aaaaaaaaaaaaaaaaaaaa\na read bbbbbbbbbbbbbbbbbbbbbb\n", "twice"),
    ("# nothing\n", "no tokens"),
])
def test_token_file_errors_name_the_line(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "tokens").write_text(text)
    with pytest.raises(ValueError, match=match):
        Tokens.from_file(tmp_path / "tokens")


def test_roles() -> None:
    tokens = Tokens.single("s" * 20)
    principal = tokens.authenticate("Bearer " + "s" * 20)
    assert principal is not None and principal.role is Role.ADMIN
    assert tokens.authenticate("Basic " + "s" * 20) is None
    assert tokens.authenticate("Bearer " + "s" * 19) is None


def test_a_task_log_is_its_owners_alone(served: tuple[Service, httpx.Client]) -> None:
    _, api = served
    failing = {"name": "boom", "operation": "command", "inputs": ["d"], "max_retries": 0,
               "params": {"argv": ["sh", "-c", "echo boom >&2; exit 1"]}}
    job = api.post("/v1/jobs", json=failing, headers=as_("alice")).json()
    wait_for(lambda: api.get(f"/v1/jobs/{job['id']}", headers=as_("alice")).json()["state"]
             == "FAILED", what="the job to fail")
    logs = f"/v1/jobs/{job['id']}/tasks/0/logs"
    assert "boom" in api.get(logs, headers=as_("alice")).json()["data"]
    assert_error(api.get(logs, headers=as_("bob")), 404, "not found")
    assert "boom" in api.get(logs, headers=as_("ops")).json()["data"]


def test_a_submitter_sees_and_cancels_only_its_own_workflows(
        served: tuple[Service, httpx.Client]) -> None:
    service, api = served
    body = {"name": "alices", "id": str(uuid.uuid4()), "steps": {"slow": SLEEPY}}
    submitted = api.post("/v1/workflows", json=body, headers=as_("alice"))
    assert submitted.status_code == 201, submitted.text
    workflow = submitted.json()
    assert workflow["owner"] == "alice"
    assert_error(api.get(f"/v1/workflows/{workflow['id']}", headers=as_("bob")), 404)
    assert_error(api.delete(f"/v1/workflows/{workflow['id']}", headers=as_("bob")), 404)
    assert workflow["id"] not in {
        w["id"] for w in api.get("/v1/workflows", headers=as_("bob")).json()}
    assert_error(api.post("/v1/workflows", json=body, headers=as_("bob")), 409)
    assert_error(api.post("/v1/workflows", json=body, headers=as_("ops")), 403, "read")
    step = wait_for(lambda: api.get(f"/v1/workflows/{workflow['id']}",
                                    headers=as_("alice")).json()["steps"]["slow"]["job"], 30)
    assert api.get(f"/v1/jobs/{step}", headers=as_("alice")).json()["owner"] == "alice"
    cancelled = api.delete(f"/v1/workflows/{workflow['id']}", headers=as_("alice")).json()
    assert cancelled["state"] == "CANCELLED"
    tokens = Tokens.from_file(service.options.token_file)  # type: ignore[arg-type]
    exposed = create_app(service, tokens=tokens, attempt_key=service.attempt_key,
                         exposed=True)
    with serving(exposed) as client:
        refused = client.post("/v1/workflows", json={**body, "id": str(uuid.uuid4())},
                              headers=as_("alice"))
        assert_error(refused, 403, "role command or admin")
        assert refused.json()["details"] == [{"loc": "steps.slow.operation",
                                             "msg": "command not allowed"}]
