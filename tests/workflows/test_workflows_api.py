"""Workflows on a live scheduler: the examples compute what NumPy does, failures and
cancellation end them as the contract says, and a bad one is refused with nothing stored."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import numpy as np
import pytest

from femto.api.models import WorkflowObject
from femto.events import JobEvent, WorkflowEvent
from femto.jobs.examples.data import example_dataset
from tests.framework.helpers import fetch, upload
from tests.framework.test_events import following
from tests.workflows.helpers import example, result, submit_workflow, wait_workflow


def numpy_sliding_mean(x: np.ndarray, window: int) -> np.ndarray:
    sums = np.cumsum(np.concatenate([[0.0], x]))
    i = np.arange(len(x))
    lo = np.maximum(0, i - window + 1)
    return (sums[i + 1] - sums[lo]) / (i + 1 - lo)


def test_pipeline_equals_numpy_and_drops_its_keep_false_intermediate(
        api: httpx.Client) -> None:
    spec = example("signal-pipeline")
    shown = submit_workflow(api, spec)
    assert shown["state"] in ("PENDING", "RUNNING")
    done = wait_workflow(api, shown["id"])
    assert done["state"] == "FINISHED", done
    assert {s["state"] for s in done["steps"].values()} == {"FINISHED"}
    WorkflowObject.model_validate(done)  # as the OpenAPI document describes it
    clean, smooth = spec["steps"]["clean"]["params"], spec["steps"]["smooth"]["params"]
    hist = spec["steps"]["histogram"]["params"]
    expected_smooth = numpy_sliding_mean(
        np.clip(example_dataset("signal"), clean["min"], clean["max"]), smooth["window"])
    smoothed = fetch(api, done["steps"]["smooth"]["output"])
    np.testing.assert_allclose(smoothed, expected_smooth, rtol=1e-9, atol=1e-9)
    counts, _ = np.histogram(smoothed, bins=hist["bins"], range=hist["range"])
    assert result(api, done["steps"]["histogram"]["job"])["counts"] == counts.tolist()
    # keep: false, and its one consumer (smooth) finished: gone; the others stay.
    assert api.get(f"/v1/datasets/{done['steps']['clean']['output']}").status_code == 404
    assert api.get(f"/v1/datasets/{done['steps']['smooth']['output']}").status_code == 200
    step_job = api.get(f"/v1/jobs/{done['steps']['smooth']['job']}").json()
    assert (step_job["workflow"], step_job["step"]) == (shown["id"], "smooth")


def test_diamond_equals_numpy_and_keeps_its_intermediates(api: httpx.Client) -> None:
    spec = example("signal-diamond")
    done = wait_workflow(api, submit_workflow(api, spec)["id"])
    assert done["state"] == "FINISHED", done
    x = example_dataset("signal")
    clean, smooth = spec["steps"]["clean"]["params"], spec["steps"]["smooth"]["params"]
    expected = np.sum(np.clip(x, clean["min"], clean["max"])
                      + numpy_sliding_mean(x, smooth["window"]))
    assert result(api, done["steps"]["total"]["job"])["value"] == pytest.approx(
        expected, rel=1e-9)
    for step in ("clean", "smooth", "joined"):  # keep defaults to true
        assert api.get(f"/v1/datasets/{done['steps'][step]['output']}").status_code == 200


def slow(seconds: float, **extra: Any) -> dict[str, Any]:
    return {"operation": "command", "params": {"argv": ["sh", "-c", f"sleep {seconds}; cat"]},
            "inputs": ["signal"], **extra}


def test_a_failed_middle_step_skips_its_dependents_and_cancels_its_siblings(
        api: httpx.Client) -> None:
    shown = submit_workflow(api, {"name": "broken", "steps": {
        "first": {"operation": "real2bin", "inputs": ["signal"]},
        "middle": {"operation": "command", "params": {"argv": ["false"]},
                   "inputs": ["@first"], "max_retries": 0},
        "last": {"operation": "sum", "inputs": ["@middle"]},
        "sibling": slow(30),
    }})
    done = wait_workflow(api, shown["id"])
    steps = {name: s["state"] for name, s in done["steps"].items()}
    assert done["state"] == "FAILED", done
    assert done["error"].startswith("step middle failed: partition "), done["error"]
    assert steps == {"first": "FINISHED", "middle": "FAILED", "last": "SKIPPED",
                     "sibling": "CANCELLED"}
    assert done["steps"]["last"]["job"] is None  # never submitted
    sibling = api.get(f"/v1/jobs/{done['steps']['sibling']['job']}").json()
    assert sibling["state"] == "CANCELLED"


def test_cancel_mid_run(api: httpx.Client) -> None:
    shown = submit_workflow(api, {"name": "to-cancel", "steps": {
        "slow": slow(2), "after": {"operation": "sum", "inputs": ["@slow"]}}})
    wait_workflow(api, shown["id"], lambda w: w["steps"]["slow"]["state"] == "RUNNING")
    response = api.delete(f"/v1/workflows/{shown['id']}")
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["state"] == "CANCELLED" and cancelled["error"] == "cancelled by user"
    assert {n: s["state"] for n, s in cancelled["steps"].items()} == {
        "slow": "CANCELLED", "after": "SKIPPED"}
    assert api.get(f"/v1/jobs/{cancelled['steps']['slow']['job']}").json()["state"] \
        == "CANCELLED"
    assert api.get(f"/v1/workflows/{shown['id']}").json() == cancelled
    again = api.delete(f"/v1/workflows/{shown['id']}")  # over: returned unchanged
    assert again.status_code == 200 and again.json() == cancelled


def totals(api: httpx.Client) -> tuple[str, str]:
    return (api.get("/v1/workflows").headers["x-total-count"],
            api.get("/v1/jobs").headers["x-total-count"])


@pytest.mark.parametrize(("steps", "loc", "words"), [
    ({"a": {"operation": "real2bin", "inputs": ["@b"]},
      "b": {"operation": "real2bin", "inputs": ["@a"]}}, None, "cycle: "),
    ({"a": {"operation": "sum", "inputs": ["@nowhere"]}}, "steps.a.inputs.0", "unknown step"),
    ({"q": {"operation": "count", "inputs": ["signal"]},
      "a": {"operation": "real2bin", "inputs": ["@q"]}}, "steps.a.inputs.0", "query"),
    ({"a": {"operation": "sum", "inputs": ["no-such-data"]}}, "steps.a.inputs.0",
     "unknown dataset"),
], ids=["cycle", "dangling-ref", "query-as-input", "unknown-dataset"])
def test_a_bad_workflow_is_a_422_and_stores_nothing(
        api: httpx.Client, steps: dict[str, Any], loc: str | None, words: str) -> None:
    before = totals(api)
    response = api.post("/v1/workflows", json={"name": "bad", "id": str(uuid.uuid4()),
                                               "steps": steps})
    assert response.status_code == 422, response.text
    body = response.json()
    [detail] = body["details"]
    assert words in detail["msg"] and words in body["error"]
    if loc is None:
        assert detail["loc"] in ("steps.a.inputs", "steps.b.inputs")
    else:
        assert detail["loc"] == loc
    assert totals(api) == before
    assert api.get(f"/v1/workflows/{body.get('id', uuid.uuid4())}").status_code == 404


def test_the_same_id_twice_is_one_workflow(api: httpx.Client) -> None:
    body = {"name": "twice", "id": str(uuid.uuid4()),
            "steps": {"n": {"operation": "count", "inputs": ["signal"]}}}
    first = submit_workflow(api, body)
    before = totals(api)
    again = api.post("/v1/workflows", json=body)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"] and totals(api) == before
    other = api.post("/v1/workflows", json={**body, "name": "other"})
    assert other.status_code == 409, other.text
    listed = api.get("/v1/workflows", params={"limit": 1000}).json()
    assert [w["id"] for w in listed].count(first["id"]) == 1
    assert wait_workflow(api, first["id"])["state"] == "FINISHED"


def test_the_event_stream_follows_one_workflow_and_its_step_jobs(api: httpx.Client) -> None:
    workflow_id = str(uuid.uuid4())
    with following(str(api.base_url), params={"workflow": workflow_id}) as follower:
        api.post("/v1/jobs", json={"name": "bystander", "operation": "count",
                                   "inputs": ["signal"]})
        submit_workflow(api, {"name": "followed", "id": workflow_id, "steps": {
            "a": {"operation": "real2bin", "inputs": ["signal"]},
            "b": {"operation": "sum", "inputs": ["@a"]}}})
        got = follower.until(lambda e: isinstance(e, WorkflowEvent) and e.state == "FINISHED")
    done = api.get(f"/v1/workflows/{workflow_id}").json()
    step_jobs = {s["job"] for s in done["steps"].values()}
    workflow_events = [r.event for r in got if isinstance(r.event, WorkflowEvent)]
    assert {e.workflow for e in workflow_events} == {workflow_id}
    assert workflow_events[0].steps == {"a": {"state": "WAITING", "job": None},
                                        "b": {"state": "WAITING", "job": None}}
    assert workflow_events[-1].steps["b"] == {"state": "FINISHED",
                                              "job": done["steps"]["b"]["job"]}
    job_events = [r.event for r in got if isinstance(r.event, JobEvent)]
    assert {e.job for e in job_events} == step_jobs  # not the bystander's
    assert {e.job for e in job_events if e.state == "FINISHED"} == step_jobs


def test_list_filters_by_state_and_pages(api: httpx.Client) -> None:
    upload(api, "tiny", np.arange(4.0), 1)
    ids = [submit_workflow(api, {"name": f"page-{i}", "steps": {
        "n": {"operation": "count", "inputs": ["tiny"]}}})["id"] for i in range(3)]
    for workflow_id in ids:
        wait_workflow(api, workflow_id)
    page = api.get("/v1/workflows", params={"limit": 2, "state": "FINISHED"})
    assert [w["id"] for w in page.json()] == ids[::-1][:2]  # newest first
    assert 'rel="next"' in page.headers["link"]
    assert api.get("/v1/workflows", params={"state": "BOGUS"}).status_code == 422
