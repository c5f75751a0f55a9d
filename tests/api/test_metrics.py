"""/metrics in Prometheus's own format, read back with prometheus_client's parser."""

from __future__ import annotations

import sys
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from femto.api.metrics import Metrics
from femto.service import Service
from tests.framework.helpers import submit, wait_done

# Long enough that the executor reports TASK_RUNNING before the end.
NAP = "import sys, time; data = sys.stdin.buffer.read(); time.sleep(0.3); " \
      "sys.stdout.buffer.write(data)"


def scrape(api: httpx.Client) -> dict[str, Any]:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def value(family: Any, suffix: str = "", **labels: str) -> float:
    [sample] = [s for s in family.samples if s.name == family.name + suffix
                and all(s.labels.get(k) == v for k, v in labels.items())]
    return float(sample.value)


def test_every_series_has_help_and_the_collectors_are_there(api: httpx.Client) -> None:
    families = scrape(api)
    assert all(f.documentation for f in families.values()), [
        name for name, f in families.items() if not f.documentation]
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "python_info",
            "python_gc_collections"} <= set(families)
    # The series femto had before prometheus_client keep their names.
    assert {"femto_active_jobs", "femto_pending_tasks", "femto_running_tasks",
            "femto_mesos_connected", "femto_is_leader", "femto_tasks_launched",
            "femto_tasks_finished", "femto_tasks_failed_attempts", "femto_offers_received",
            "femto_offers_declined", "femto_offers_used"} <= set(families)
    assert families["femto_tasks_launched"].type == "counter"
    assert value(families["femto_is_leader"]) == 1


def test_jobs_tasks_offers_and_durations_follow_the_work(api: httpx.Client) -> None:
    before = scrape(api)
    job = submit(api, {"name": "metered", "operation": "command", "inputs": ["d"],
                       "params": {"argv": [sys.executable, "-c", NAP]}})
    wait_done(api, job["id"])
    api.get(f"/v1/jobs/{job['id']}")
    after = scrape(api)
    finished = value(after["femto_jobs"], state="FINISHED")
    assert finished == value(before["femto_jobs"], state="FINISHED") + 1
    assert value(after["femto_tasks"], state="FINISHED") >= 3
    assert {s.labels["state"] for s in after["femto_jobs"].samples} == {
        "PENDING", "RUNNING", "FINISHED", "FAILED", "CANCELLED"}
    for name in ("femto_offers_received", "femto_offers_used", "femto_tasks_launched"):
        assert value(after[name], "_total") >= value(before[name], "_total") + 1, name
    for name in ("femto_task_run_seconds", "femto_task_queue_wait_seconds"):
        assert after[name].type == "histogram"
        assert value(after[name], "_count") >= value(before[name], "_count") + 3, name
        assert value(after[name], "_bucket", le="+Inf") == value(after[name], "_count")
    assert value(after["femto_task_run_seconds"], "_sum") > value(
        before["femto_task_run_seconds"], "_sum")


def test_api_latency_is_by_route_template_never_by_raw_path(api: httpx.Client) -> None:
    job = submit(api, {"name": "routed", "operation": "count", "inputs": ["d"]})
    api.get(f"/v1/jobs/{job['id']}")
    api.get("/v1/no-such-route")
    latency = scrape(api)["femto_api_request_duration_seconds"]
    routes = {s.labels["route"] for s in latency.samples}
    assert {"/v1/jobs/{job_id}", "/v1/jobs", "unmatched"} <= routes
    assert not any(job["id"] in route for route in routes)
    assert value(latency, "_count", method="GET", route="/v1/jobs/{job_id}",
                 status="200") >= 1
    assert value(latency, "_count", method="POST", route="/v1/jobs", status="201") >= 1


def test_each_service_has_its_own_registry(served: tuple[Service, httpx.Client]) -> None:
    service, _ = served
    # A second set on the same process (another Service's) registers without a clash.
    first, second = Metrics(service), Metrics(service)
    assert first.registry is not second.registry
    first.api_latency.labels("GET", "/x", "200").observe(1.0)
    assert second.registry.get_sample_value(
        "femto_api_request_duration_seconds_count",
        {"method": "GET", "route": "/x", "status": "200"}) is None
