"""GET /v1/cluster on the embedded cluster: the dashboard's cluster page reads it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.framework.helpers import running_service, submit, upload, wait_done
from tests.waiting import wait_for


def test_the_cluster_view_names_the_scheduler_the_master_and_each_agent(
    tmp_path: Path,
) -> None:
    with running_service(tmp_path / "state", agents=2, agent_cpus=3.0,
                         agent_mem=1024.0) as (service, api):
        view = api.get("/v1/cluster").json()
        assert view["error"] is None
        assert view["schedulers"] == [{"url": service.url, "leader": True}]
        assert view["framework_id"]
        assert view["master"]["url"] == service.master_url()
        assert view["master"]["version"]
        assert len(view["agents"]) == 2
        for agent in view["agents"]:
            assert agent["active"] is True and agent["host"]
            assert agent["resources"]["cpus"] == 3.0 and agent["resources"]["mem"] == 1024.0
            assert set(agent["used"]) == {"cpus", "mem", "disk"}


def test_running_tasks_show_as_used_resources_and_executors_on_their_agents(
    tmp_path: Path,
) -> None:
    with running_service(tmp_path / "state") as (_, api):
        upload(api, "d", np.arange(4.0), 2)
        job = submit(api, {"name": "sleepers", "operation": "command",
                           "params": {"argv": ["sh", "-c", "sleep 30"]},
                           "inputs": ["d"], "resources": {"cpus": 0.5, "mem": 32}})

        def executing() -> list[dict]:
            agents = api.get("/v1/cluster").json()["agents"]
            return [e for a in agents for e in a["executors"] if e["tasks"]]

        wait_for(lambda: sum(e["tasks"] for e in executing()) == 2, 60, "two running tasks")
        view = api.get("/v1/cluster").json()
        assert {e["framework_id"] for a in view["agents"] for e in a["executors"]} == {
            view["framework_id"]}
        assert sum(a["used"]["cpus"] for a in view["agents"]) >= 1.0
        api.delete(f"/v1/jobs/{job['id']}")
        wait_done(api, job["id"])


def test_an_unreachable_master_is_named_in_a_200(tmp_path: Path) -> None:
    with running_service(tmp_path / "state") as (service, api):
        master = service.master_url()
        assert service.local_mesos is not None
        service.local_mesos.stop()  # the master goes away under a subscribed scheduler
        response = api.get("/v1/cluster")
        assert response.status_code == 200
        view = response.json()
        assert view["agents"] == [] and view["master"] == {"url": master, "version": None}
        assert master in view["error"]
        assert view["schedulers"] == [{"url": service.url, "leader": True}]
