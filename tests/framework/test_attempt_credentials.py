"""Executors reach femto with their attempt's own credential; users' tokens open nothing
there, and only a partition's live attempt can deliver its output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from femto import credentials
from localmesos import LocalMesos
from mesosapi.encoding import decode_data
from tests.framework.helpers import fetch, npy, running_service, submit, upload, wait_done
from tests.framework.test_api_errors import assert_error
from tests.waiting import wait_for

TOKEN = "users-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SLOW_CAT = {"argv": ["sh", "-c", "sleep 1; cat"]}


def test_outputs_and_inputs_need_the_live_attempts_credential(tmp_path: Path) -> None:
    data = np.arange(40, dtype=np.float64)
    with LocalMesos(agents=2, work_dir=tmp_path / "mesos") as cluster, \
            running_service(tmp_path / "femto", master=cluster.address,
                            api_token=TOKEN) as (service, api):
        api.headers.update(AUTH)
        upload(api, "d", data, 2)
        upload(api, "other", data, 2)
        job = submit(api, {"name": "cat", "operation": "command", "inputs": ["d"],
                           "params": SLOW_CAT, "output": "cat-out", "max_retries": 0})
        wait_for(lambda: any(t["state"] == "RUNNING" for t in
                             api.get(f"/v1/jobs/{job['id']}/tasks").json()),
                 what="a running task")
        output = f"/executor/jobs/{job['id']}/outputs/0"
        forged = npy(np.full(20, -1.0))
        # Neither nothing, nor the users' token, nor a credential signed with another key.
        for headers in ({}, AUTH, {"Authorization": "Bearer " + credentials.issue(
                b"not-the-key", f"{job['id']}.0.1")}):
            assert_error(api.put(output, content=forged, headers=headers), 401, "credential")
            assert_error(api.get("/executor/datasets/d/partitions/0", headers=headers), 401)
        key = service.attempt_key
        # A genuine credential of an attempt that is not partition 0's live one.
        stale = {"Authorization": "Bearer " + credentials.issue(key, f"{job['id']}.0.7")}
        assert_error(api.put(output, content=forged, headers=stale), 403, "live attempt")
        live = {"Authorization": "Bearer " + credentials.issue(key, f"{job['id']}.1.1")}
        assert_error(api.put(output, content=forged, headers=live), 403, "live attempt")
        # An attempt reads its own job's inputs, and nothing else.
        assert api.get("/executor/datasets/d/partitions/0", headers=live).status_code == 200
        assert_error(api.get("/executor/datasets/other/partitions/0", headers=live), 403,
                     "'other'")
        done = wait_done(api, job["id"])
        assert done["state"] == "FINISHED", done
        np.testing.assert_array_equal(fetch(api, "cat-out"), data)
        # Once the job is over, its attempts' credentials read nothing either.
        assert_error(api.get("/executor/datasets/d/partitions/0", headers=live), 403)
        # The users' token never travels to the agents: TaskInfo.data holds the credential.
        state = cluster.state()
        [framework] = state["frameworks"]
        assert framework["completed_tasks"]
        for info in _task_infos(cluster):
            payload = json.loads(decode_data(info["data"]))
            assert TOKEN not in json.dumps(payload)
            assert credentials.verify(key, payload["credential"]) == info["task_id"]["value"]


def _task_infos(cluster: LocalMesos) -> list[dict]:
    master = cluster.master
    assert master is not None
    return [task.info for framework in master.frameworks.values()
            for task in [*framework.tasks.values(), *framework.completed_tasks]]


def test_credentials_name_one_attempt() -> None:
    key = b"k" * 32
    credential = credentials.issue(key, "job.3.2")
    assert credentials.verify(key, credential) == "job.3.2"
    assert credentials.verify(b"x" * 32, credential) is None
    assert credentials.verify(key, credential.replace("job.3.2", "job.3.3")) is None
    assert credentials.verify(key, "") is None
    assert credentials.verify(key, credential + "0") is None
