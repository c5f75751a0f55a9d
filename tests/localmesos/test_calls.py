"""Invalid scheduler and executor calls get the 4xx real Mesos gives, with a text body."""

from __future__ import annotations

import httpx

from localmesos import LocalMesos
from tests.localmesos.conftest import executor_info
from tests.localmesos.raw_scheduler import RawScheduler, command_task, scalar

JSON = {"Content-Type": "application/json"}


def test_invalid_scheduler_calls(cluster: LocalMesos, scheduler: RawScheduler) -> None:
    api = f"{cluster.url}/api/v1/scheduler"
    framework_id = scheduler.subscribe()
    kill = {"type": "KILL", "framework_id": framework_id, "kill": {"task_id": {"value": "x"}}}

    malformed = httpx.post(api, content=b"{not json", headers=JSON)
    assert malformed.status_code == 400 and "JSON" in malformed.text
    unknown_type = httpx.post(api, json={"type": "DANCE"}, headers=JSON)
    assert unknown_type.status_code == 400 and "DANCE" in unknown_type.text
    no_stream_id = httpx.post(api, json=kill)
    assert no_stream_id.status_code == 400 and "Mesos-Stream-Id" in no_stream_id.text
    wrong_stream_id = httpx.post(api, json=kill, headers={"Mesos-Stream-Id": "nope"})
    assert wrong_stream_id.status_code == 400 and "stream ID" in wrong_stream_id.text
    stranger = {**kill, "framework_id": {"value": "not-a-framework"}}
    unknown_framework = httpx.post(api, json=stranger, headers={"Mesos-Stream-Id": "x"})
    assert unknown_framework.status_code == 403 and "not subscribed" in unknown_framework.text
    protobuf = httpx.post(
        api, content=b"\x08\x01", headers={"Content-Type": "application/x-protobuf"}
    )
    assert protobuf.status_code == 415 and protobuf.text
    assert httpx.get(api).status_code == 405
    no_framework_info = httpx.post(api, json={"type": "SUBSCRIBE", "subscribe": {}})
    assert no_framework_info.status_code == 400 and "framework_info" in no_framework_info.text
    bad_operation = scheduler.call(
        "ACCEPT", {"offer_ids": [{"value": "o"}], "operations": [{"type": "RESERVE"}]}
    )
    assert bad_operation.status_code == 400 and "RESERVE" in bad_operation.text
    # A well-formed call still works after all of that.
    assert scheduler.call("KILL", {"task_id": {"value": "x"}}).status_code == 202
    lost = scheduler.wait_update("x", "TASK_LOST")
    assert lost["reason"] == "REASON_TASK_UNKNOWN"


def test_accept_validation(scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    first, second = scheduler.offers(count=2)
    # More than the offer holds.
    scheduler.accept([first], [command_task("greedy", first, "true", cpus=5.0)], refuse_seconds=0)
    error = scheduler.wait_update("greedy", "TASK_ERROR")
    assert error["reason"] == "REASON_TASK_INVALID" and "more resources" in error["message"]
    # An offer already used.
    scheduler.accept([first], [command_task("late", first, "true")])
    dropped = scheduler.wait_update("late", "TASK_LOST")
    assert dropped["reason"] == "REASON_INVALID_OFFERS"
    # Neither command nor executor; both.
    broken = command_task("neither", second, "true")
    del broken["command"]
    both = {**command_task("both", second, "true"), "executor": executor_info("e")}
    scheduler.accept([second], [broken, both])
    for task_id in ("neither", "both"):
        assert (
            "CommandInfo or ExecutorInfo" in scheduler.wait_update(task_id, "TASK_ERROR")["message"]
        )


def test_invalid_executor_calls(cluster: LocalMesos, scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    silent = {
        "executor_id": {"value": "quiet"},
        "command": {"value": "sleep 60"},
        "resources": [scalar("cpus", 0.1)],
    }
    task = {**command_task("q", offer, ""), "executor": silent}
    del task["command"]
    scheduler.accept([offer], [task])
    agent = next(a for a in cluster.state()["slaves"] if a["id"] == offer["agent_id"]["value"])
    api = f"http://127.0.0.1:{agent['port']}/api/v1/executor"
    ids = {"framework_id": scheduler.framework_id, "executor_id": {"value": "quiet"}}
    status = {"task_id": {"value": "q"}, "state": "TASK_RUNNING", "uuid": "AAAA"}

    unknown = httpx.post(
        api, json={**ids, "type": "SUBSCRIBE", "executor_id": {"value": "who"}, "subscribe": {}}
    )
    assert unknown.status_code == 400 and "who" in unknown.text
    unsubscribed = httpx.post(api, json={**ids, "type": "UPDATE", "update": {"status": status}})
    assert unsubscribed.status_code == 403
    assert httpx.post(api, content=b"[", headers=JSON).status_code == 400
    assert httpx.post(api, content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415
    assert httpx.get(api).status_code == 405
