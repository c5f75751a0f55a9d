"""Plugins on the embedded cluster, with real executors: the example plugin's job gives
NumPy's result; an operation the scheduler has and the agents lack fails as the work's
fault, naming its package, charged once per attempt and not retried beyond max_retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from femto.service import Service
from tests.cli.helpers import femto, femto_json
from tests.framework.helpers import running_service, submit, upload, wait_done
from tests.plugins.distributions import TOTAL, on_path, write_distribution

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "femto-weighted-mean"
RNG = np.random.default_rng(1717)
VALUES = RNG.normal(10.0, 30.0, 10_001)
WEIGHTS = RNG.uniform(0.0, 2.0, 10_001)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, httpx.Client]]:
    with running_service(tmp_path_factory.mktemp("femto")) as (service, api):
        # 10,001 rows in 7 partitions: 1,429 rows in five, 1,428 in two.
        upload(api, "values", VALUES, 7)
        upload(api, "weights", WEIGHTS, 7)
        yield service, api


def test_the_example_job_gives_numpys_weighted_mean(served: tuple[Service, httpx.Client]
                                                    ) -> None:
    _, api = served
    spec = json.loads((EXAMPLE / "job.json").read_text())
    done = wait_done(api, submit(api, spec)["id"])
    assert done["state"] == "FINISHED", done
    keep = VALUES >= 0.0  # the example's where
    assert done["result"]["value"] == pytest.approx(
        np.average(VALUES[keep], weights=WEIGHTS[keep]), rel=1e-13)


def test_its_params_are_checked_at_submission(served: tuple[Service, httpx.Client]) -> None:
    _, api = served
    response = api.post("/v1/jobs", json={
        "name": "bad", "operation": "weighted_mean", "inputs": ["values", "weights"],
        "params": {"where": {"min": 5.0, "max": 1.0}}})
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.json()["details"]] == ["params.where"]


def test_operations_are_listed_with_kind_params_and_package(
    served: tuple[Service, httpx.Client]
) -> None:
    service, api = served
    listed = api.get("/v1/operations").json()
    by_name = {o["name"]: o for o in listed}
    plugin = by_name["weighted_mean"]
    assert (plugin["kind"], plugin["arity"], plugin["package"], plugin["version"]) == \
        ("query", 2, "femto-weighted-mean", "0.1.0")
    assert set(plugin["params"]["properties"]) == {"where"}
    assert by_name["sliding_mean"]["kind"] == "transform"
    assert by_name["sliding_mean"]["params"]["required"] == ["window"]
    assert by_name["sum"]["package"] == "femto"
    assert femto_json(service, "operations") == listed
    lines = femto(service, "operations").stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "INPUTS", "PARAMS", "PACKAGE", "DESCRIPTION"]
    [row] = [line for line in lines if line.startswith("weighted_mean ")]
    assert row.split()[:6] == ["weighted_mean", "query", "2", "where?", "femto-weighted-mean",
                               "0.1.0"]


def test_an_operation_the_agents_lack_fails_naming_its_package(
    served: tuple[Service, httpx.Client], tmp_path: Path
) -> None:
    _, api = served
    upload(api, "one", np.arange(5.0), 1)
    # Installed on the scheduler's sys.path only: the executors, started by the agents
    # with an environment of their own, do not see it.
    write_distribution(tmp_path, "femto-absent-plugin", "0.3.0", "femto_absent_plugin",
                       TOTAL.format(name="absent_total"), {"absent_total": "Total"})
    with on_path(tmp_path):
        listed = {o["name"] for o in api.get("/v1/operations").json()}
        assert "absent_total" in listed
        job = submit(api, {"name": "absent", "operation": "absent_total", "inputs": ["one"],
                           "max_retries": 1})
        done = wait_done(api, job["id"])
    assert done["state"] == "FAILED", done
    named = ("operation 'absent_total' is not installed on this agent: the scheduler has it "
             "from package femto-absent-plugin 0.3.0; install that on every agent "
             "(pip install 'femto-absent-plugin==0.3.0')")
    assert named in done["error"]
    [task] = api.get(f"/v1/jobs/{job['id']}/tasks").json()
    # Each attempt charged once, as the work's fault: max_retries=1 gives two attempts,
    # not the generous cap infrastructure failures get.
    assert (task["charged_failures"], task["infra_failures"]) == (2, 0)
    assert len(task["attempts"]) == 2 and done["attempts"] == 2
    for attempt in task["attempts"]:
        assert attempt["state"] == "TASK_FAILED" and attempt["fault"] == "work"
        assert named in attempt["message"]


def test_a_name_two_packages_register_is_refused_naming_both(
    served: tuple[Service, httpx.Client], tmp_path: Path
) -> None:
    _, api = served
    write_distribution(tmp_path, "femto-other-mean", "1.0", "femto_other_mean",
                       TOTAL.format(name="weighted_mean"), {"weighted_mean": "Total"})
    with on_path(tmp_path):
        response = api.post("/v1/jobs", json={
            "name": "which", "operation": "weighted_mean", "inputs": ["values", "weights"]})
        listed = {o["name"] for o in api.get("/v1/operations").json()}
    assert response.status_code == 422, response.text
    [detail] = response.json()["details"]
    assert detail["loc"] == "operation"
    assert "femto-other-mean 1.0" in detail["msg"] and "femto-weighted-mean 0.1.0" in detail["msg"]
    assert "weighted_mean" not in listed
