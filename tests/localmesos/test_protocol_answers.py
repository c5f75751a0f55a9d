"""Every mistake in a scheduler or executor call gets the real master's or agent's answer.

The expected codes and texts are taken from Mesos 1.12, not from localmesos:
src/master/http.cpp `Master::Http::scheduler`, src/master/validation.cpp
`scheduler::call::validate`, src/slave/http.cpp `Http::executor`,
src/common/validation.cpp `validateExecutorCall`, stout's protobuf.hpp (JSON ->
protobuf: "Missing required fields", "Failed to find enum", base64 bytes) and
uuid.hpp (`UUID::fromBytes`), libprocess' http.hpp (405), and
docs/scheduler-http-api.md / docs/executor-http-api.md. Raw HTTP with httpx.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from localmesos import LocalMesos
from localmesos.validation import uuid_error
from tests.localmesos.raw_scheduler import RawScheduler, command_task, read_records, scalar
from tests.waiting import wait_for

JSON = {"Content-Type": "application/json"}
Call = dict[str, Any]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def with_version(version: int) -> bytes:
    """Sixteen bytes whose version nibble (the high half of byte 6) is `version`."""
    raw = bytearray(uuid.uuid4().bytes)
    raw[6] = (version << 4) | (raw[6] & 0x0F)
    return bytes(raw)


def post(url: str, call: Any, **headers: str) -> httpx.Response:
    return httpx.post(url, json=call, headers={**JSON, **headers}, timeout=10)


def answer(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.text


# ---------------------------------------------------------------------------- pure


@pytest.mark.parametrize("version", range(16))
def test_uuid_bytes_need_a_known_version(version: int) -> None:
    # stout UUID::fromBytes -> boost uuid::version(): RFC 4122 versions 1 to 5.
    expected = None if 1 <= version <= 5 else "Not a valid UUID"
    assert uuid_error(b64(with_version(version))) == expected


def test_uuid_bytes_need_sixteen_bytes() -> None:
    assert uuid_error(b64(uuid.uuid4().bytes[:15])) == "Not a valid UUID"
    assert uuid_error(b64(uuid.uuid4().bytes + b"\0")) == "Not a valid UUID"
    assert uuid_error("") == "Not a valid UUID"
    assert uuid_error(b64(uuid.uuid1().bytes)) is None


# ---------------------------------------------------------------------------- scheduler API


@pytest.fixture
def api(cluster: LocalMesos) -> str:
    return f"{cluster.url}/api/v1/scheduler"


def framework_info(**extra: Any) -> Call:
    return {"user": "tester", "name": "answers", **extra}


def test_wrong_method_is_405(api: str) -> None:
    response = httpx.get(api)
    assert answer(response) == (
        405,
        "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'.",
    )
    assert response.headers["Allow"] == "POST"


def test_content_type_must_be_present_and_json(api: str) -> None:
    assert answer(httpx.post(api, content=b"{}")) == (
        400,
        "Expecting 'Content-Type' to be present",
    )
    plain = httpx.post(api, content=b"{}", headers={"Content-Type": "text/plain"})
    assert answer(plain) == (
        415,
        "Expecting 'Content-Type' of application/json or application/x-protobuf",
    )


def test_malformed_json_is_400(api: str) -> None:
    status, text = answer(httpx.post(api, content=b"{not json", headers=JSON))
    assert status == 400 and text.startswith("Failed to parse body into JSON: ")


def test_a_call_must_be_a_json_object(api: str) -> None:
    assert answer(post(api, [1, 2])) == (
        400,
        "Failed to convert JSON into Call protobuf: Expecting a JSON object",
    )


def test_a_field_of_the_wrong_json_kind_is_400(api: str) -> None:
    call = {"type": "TEARDOWN", "framework_id": "not-an-object"}
    assert answer(post(api, call)) == (
        400,
        "Failed to convert JSON into Call protobuf:"
        " Not expecting a JSON string for field 'framework_id'",
    )


@pytest.mark.parametrize("call", [{}, {"type": "DANCE"}])
def test_an_unset_or_unknown_type_is_400(api: str, call: Call) -> None:
    # An unknown name of an optional enum leaves the field unset (proto2).
    assert answer(post(api, call)) == (
        400,
        "Failed to validate scheduler::Call: Expecting 'type' to be present",
    )


def test_subscribe_without_subscribe_is_400(api: str) -> None:
    assert answer(post(api, {"type": "SUBSCRIBE"})) == (
        400,
        "Failed to validate scheduler::Call: Expecting 'subscribe' to be present",
    )


@pytest.mark.parametrize(
    ("subscribe", "missing"),
    [
        ({}, "subscribe.framework_info"),
        ({"framework_info": {"name": "x"}}, "subscribe.framework_info.user"),
        ({"framework_info": {}}, "subscribe.framework_info.user, subscribe.framework_info.name"),
        ({"framework_info": framework_info(id={})}, "subscribe.framework_info.id.value"),
    ],
)
def test_subscribe_without_required_framework_info_fields_is_400(
    api: str, subscribe: Call, missing: str
) -> None:
    assert answer(post(api, {"type": "SUBSCRIBE", "subscribe": subscribe})) == (
        400,
        f"Failed to convert JSON into Call protobuf: Missing required fields: {missing}",
    )


def test_subscribe_with_a_stream_id_header_is_400_and_creates_nothing(
    cluster: LocalMesos, api: str
) -> None:
    call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info()}}
    response = post(api, call, **{"Mesos-Stream-Id": "0a1b"})
    assert answer(response) == (
        400,
        "Subscribe calls should not include the 'Mesos-Stream-Id' header",
    )
    assert cluster.state()["frameworks"] == []


def test_subscribe_that_does_not_accept_json_is_406(api: str) -> None:
    call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info()}}
    response = post(api, call, Accept="text/html")
    assert answer(response) == (
        406,
        "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
    )


def test_resubscribe_needs_the_top_level_framework_id(
    api: str, scheduler: RawScheduler
) -> None:
    framework_id = scheduler.subscribe()
    info = framework_info(id=framework_id)
    differs = "Failed to validate scheduler::Call: 'framework_id' differs from" \
        " 'subscribe.framework_info.id'"  # fmt: skip
    without = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    assert answer(post(api, without)) == (400, differs)
    other = {**without, "framework_id": {"value": "someone-else"}}
    assert answer(post(api, other)) == (400, differs)
    only_top = {
        "type": "SUBSCRIBE",
        "framework_id": framework_id,
        "subscribe": {"framework_info": framework_info()},
    }
    assert answer(post(api, only_top)) == (400, differs)


def test_only_subscribe_looks_at_accept(api: str, scheduler: RawScheduler) -> None:
    framework_id = scheduler.subscribe()
    call = {"type": "REVIVE", "framework_id": framework_id}
    headers = {"Mesos-Stream-Id": scheduler.stream_id or "", "Accept": "text/html"}
    assert post(api, call, **headers).status_code == 202


def test_calls_but_subscribe_need_a_framework_id(api: str) -> None:
    assert answer(post(api, {"type": "TEARDOWN"})) == (
        400,
        "Failed to validate scheduler::Call: Expecting 'framework_id' to be present",
    )


def test_an_unknown_framework_is_400(api: str) -> None:
    call = {"type": "REVIVE", "framework_id": {"value": "never-subscribed"}}
    assert answer(post(api, call, **{"Mesos-Stream-Id": "x"})) == (
        400,
        "Framework cannot be found",
    )


def test_a_torn_down_framework_cannot_be_found(scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    assert scheduler.call("TEARDOWN").status_code == 202
    assert answer(scheduler.call("REVIVE")) == (400, "Framework cannot be found")


def test_a_known_framework_that_is_not_connected_is_403(
    cluster: LocalMesos, api: str
) -> None:
    sched = RawScheduler(cluster.url, failover_timeout=60.0)
    try:
        framework_id = sched.subscribe()
        sched.close()
        # The master sees the stream end a moment later.
        wait_for(
            lambda: not cluster.state()["frameworks"][0]["connected"], 10, "the disconnection"
        )
        call = {"type": "REVIVE", "framework_id": framework_id}
        response = post(api, call, **{"Mesos-Stream-Id": sched.stream_id or ""})
        assert answer(response) == (403, "Framework is not subscribed")
    finally:
        sched.stop()


def test_a_call_without_the_stream_id_header_is_400(
    api: str, scheduler: RawScheduler
) -> None:
    framework_id = scheduler.subscribe()
    assert answer(post(api, {"type": "REVIVE", "framework_id": framework_id})) == (
        400,
        "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
    )


def test_a_call_with_another_stream_id_is_400(api: str, scheduler: RawScheduler) -> None:
    framework_id = scheduler.subscribe()
    call = {"type": "REVIVE", "framework_id": framework_id}
    assert answer(post(api, call, **{"Mesos-Stream-Id": "nope"})) == (
        400,
        "The stream ID 'nope' included in this request didn't match the stream ID"
        f" currently associated with framework ID {framework_id['value']}",
    )


@pytest.mark.parametrize(
    "kind", ["ACCEPT", "DECLINE", "KILL", "SHUTDOWN", "ACKNOWLEDGE", "RECONCILE", "MESSAGE"]
)
def test_a_call_without_its_section_is_400(scheduler: RawScheduler, kind: str) -> None:
    scheduler.subscribe()
    assert answer(scheduler.call(kind)) == (
        400,
        f"Failed to validate scheduler::Call: Expecting '{kind.lower()}' to be present",
    )


@pytest.mark.parametrize(
    ("kind", "body", "missing"),
    [
        ("KILL", {}, "kill.task_id"),
        ("KILL", {"task_id": {}}, "kill.task_id.value"),
        ("SHUTDOWN", {"executor_id": {"value": "e"}}, "shutdown.agent_id"),
        ("ACKNOWLEDGE", {"task_id": {"value": "t"}}, "acknowledge.agent_id, acknowledge.uuid"),
        ("MESSAGE", {"agent_id": {"value": "a"}, "executor_id": {"value": "e"}}, "message.data"),
        ("RECONCILE", {"tasks": [{"agent_id": {"value": "a"}}]}, "reconcile.tasks[0].task_id"),
        ("DECLINE", {"offer_ids": [{}]}, "decline.offer_ids[0].value"),
    ],
)
def test_a_call_without_a_required_field_is_400(
    scheduler: RawScheduler, kind: str, body: Call, missing: str
) -> None:
    scheduler.subscribe()
    assert answer(scheduler.call(kind, body)) == (
        400,
        f"Failed to convert JSON into Call protobuf: Missing required fields: {missing}",
    )


def test_a_launched_task_without_required_fields_is_400(scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    task = command_task("t", offer, "true")
    del task["name"], task["agent_id"]
    launch = {"type": "LAUNCH", "launch": {"task_infos": [task]}}
    accept = {"offer_ids": [offer["id"]], "operations": [launch]}
    prefix = "accept.operations[0].launch.task_infos[0]"
    assert answer(scheduler.call("ACCEPT", accept)) == (
        400,
        "Failed to convert JSON into Call protobuf:"
        f" Missing required fields: {prefix}.name, {prefix}.agent_id",
    )


@pytest.mark.parametrize("raw", [with_version(0), with_version(7), b"", uuid.uuid4().bytes[:8]])
def test_acknowledge_with_an_invalid_uuid_is_400(scheduler: RawScheduler, raw: bytes) -> None:
    scheduler.subscribe()
    body = {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": b64(raw)}
    assert answer(scheduler.call("ACKNOWLEDGE", body)) == (
        400,
        "Failed to validate scheduler::Call: Not a valid UUID",
    )


def test_acknowledge_with_a_uuid_that_is_not_base64_is_400(scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    body = {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "no!"}
    assert answer(scheduler.call("ACKNOWLEDGE", body)) == (
        400,
        "Failed to convert JSON into Call protobuf:"
        " Failed to base64 decode bytes field 'uuid': Invalid character '!'",
    )


def test_an_update_the_master_makes_has_no_uuid_to_acknowledge(
    scheduler: RawScheduler,
) -> None:
    # docs/scheduler-http-api.md: only updates with a uuid are acknowledged; the master's
    # own (here: the kill of an unknown task) have none, and the uuid field is required.
    scheduler.subscribe()
    assert scheduler.call("KILL", {"task_id": {"value": "ghost"}}).status_code == 202
    lost = scheduler.wait_update("ghost", "TASK_LOST", ack=False)
    assert "uuid" not in lost and lost["source"] == "SOURCE_MASTER"
    body = {"agent_id": {"value": "a"}, "task_id": lost["task_id"]}
    assert answer(scheduler.call("ACKNOWLEDGE", body)) == (
        400,
        "Failed to convert JSON into Call protobuf: Missing required fields: acknowledge.uuid",
    )
    # An acknowledgement of an update the master does not know is accepted and ignored.
    body["uuid"] = b64(uuid.uuid4().bytes)
    assert scheduler.call("ACKNOWLEDGE", body).status_code == 202


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("REVIVE", None),
        ("SUPPRESS", None),
        ("REVIVE", {"roles": ["*"]}),
        ("RECONCILE", {}),
        ("REQUEST", {"requests": []}),
        ("DECLINE", {"offer_ids": [{"value": "gone"}]}),
        ("ACCEPT_INVERSE_OFFERS", {"inverse_offer_ids": [{"value": "gone"}]}),
    ],
)
def test_well_formed_calls_are_202(scheduler: RawScheduler, kind: str, body: Call | None) -> None:
    scheduler.subscribe()
    assert answer(scheduler.call(kind, body)) == (202, "")


def test_the_unknown_call_type_is_501(scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    assert answer(scheduler.call("UNKNOWN")) == (501, "501 Not Implemented.")


def first_event(api: str, call: Call) -> Call:
    """The first event of the stream a SUBSCRIBE opens (the call must get a 200)."""
    with httpx.stream("POST", api, json=call, headers=JSON, timeout=10) as response:
        assert response.status_code == 200, response.read()
        event: Call = json.loads(next(read_records(response.iter_raw())))
    return event


def error_event(message: str) -> Call:
    return {"type": "ERROR", "error": {"message": message}}


def test_a_subscription_refused_for_a_removed_framework_is_an_error_event(
    api: str, scheduler: RawScheduler
) -> None:
    framework_id = scheduler.subscribe()
    assert scheduler.call("TEARDOWN").status_code == 202
    call = {
        "type": "SUBSCRIBE",
        "framework_id": framework_id,
        "subscribe": {"framework_info": framework_info(id=framework_id)},
    }
    assert first_event(api, call) == error_event("Framework has been removed")


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (
            framework_info(roles=["a"]),
            "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable",
        ),
        (
            framework_info(role="a", capabilities=[{"type": "MULTI_ROLE"}]),
            "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable",
        ),
        (
            framework_info(roles=["a", "b", "a"], capabilities=[{"type": "MULTI_ROLE"}]),
            "'FrameworkInfo.roles' contains duplicate items: { a }",
        ),
    ],
)
def test_an_invalid_framework_info_is_an_error_event(
    cluster: LocalMesos, api: str, info: Call, message: str
) -> None:
    call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    assert first_event(api, call) == error_event(message)
    assert cluster.state()["frameworks"] == []


def test_a_resubscription_may_not_change_user_or_checkpoint(
    api: str, scheduler: RawScheduler
) -> None:
    framework_id = scheduler.subscribe()

    def resubscribe(**changes: Any) -> Call:
        info = framework_info(id=framework_id, **changes)
        subscribe = {"framework_info": info}
        call = {"type": "SUBSCRIBE", "framework_id": framework_id, "subscribe": subscribe}
        return first_event(api, call)

    assert resubscribe(user="root") == error_event(
        "Updating 'FrameworkInfo.user' is unsupported; attempted to update from 'tester' to 'root'"
    )
    assert resubscribe(checkpoint=True) == error_event(
        "Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from 'false'"
        " to 'true'"
    )
    # Refused re-subscriptions leave the framework's own subscription alone.
    assert scheduler.call("REVIVE").status_code == 202


# ---------------------------------------------------------------------------- executor API


@dataclass
class Placed:
    """An executor the agent launched (`sleep`, so it never subscribes by itself)."""

    url: str
    framework_id: Call
    executor_id: Call

    def call(self, kind: str, body: Call | None = None, **ids: Any) -> httpx.Response:
        call: Call = {
            "type": kind,
            "framework_id": self.framework_id,
            "executor_id": self.executor_id,
            **ids,
        }
        if body is not None:
            call[kind.lower()] = body
        return post(self.url, call)


@pytest.fixture
def placed(cluster: LocalMesos, scheduler: RawScheduler) -> Placed:
    framework_id = scheduler.subscribe()
    offer = scheduler.offers()[0]
    executor = {
        "executor_id": {"value": "quiet"},
        "command": {"value": "sleep 60"},
        "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
    }
    task = {**command_task("q", offer, ""), "executor": executor}
    del task["command"]
    scheduler.accept([offer], [task])
    agent = next(a for a in cluster.state()["slaves"] if a["id"] == offer["agent_id"]["value"])
    url = f"http://127.0.0.1:{agent['port']}/api/v1/executor"
    return Placed(url, framework_id, {"value": "quiet"})


@pytest.fixture
def subscribed(placed: Placed) -> Iterator[Placed]:
    """`placed`, with the test holding the executor's SUBSCRIBE stream open."""
    call = {
        "type": "SUBSCRIBE",
        "framework_id": placed.framework_id,
        "executor_id": placed.executor_id,
        "subscribe": {},
    }
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
        client.stream("POST", placed.url, json=call, headers=JSON) as response,
    ):
        assert response.status_code == 200
        records = read_records(response.iter_raw())  # kept: dropping it closes the stream
        assert b"SUBSCRIBED" in next(records)
        yield placed


def status(**fields: Any) -> Call:
    return {
        "task_id": {"value": "q"},
        "state": "TASK_RUNNING",
        "source": "SOURCE_EXECUTOR",
        "uuid": b64(uuid.uuid4().bytes),
        **fields,
    }


def test_executor_api_wrong_method_and_content(placed: Placed) -> None:
    assert httpx.get(placed.url).status_code == 405
    plain = httpx.post(placed.url, content=b"x", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    status_code, text = answer(httpx.post(placed.url, content=b"[", headers=JSON))
    assert status_code == 400 and text.startswith("Failed to parse body into JSON: ")


def test_executor_call_needs_both_ids(placed: Placed) -> None:
    assert answer(post(placed.url, {"type": "SUBSCRIBE", "subscribe": {}})) == (
        400,
        "Failed to convert JSON into Call protobuf:"
        " Missing required fields: executor_id, framework_id",
    )


def test_executor_call_needs_a_known_type(placed: Placed) -> None:
    assert answer(placed.call("DANCE")) == (
        400,
        "Failed to validate Executor::Call: Expecting 'type' to be present",
    )


@pytest.mark.parametrize("kind", ["SUBSCRIBE", "UPDATE", "MESSAGE"])
def test_executor_call_without_its_section_is_400(placed: Placed, kind: str) -> None:
    assert answer(placed.call(kind)) == (
        400,
        f"Failed to validate Executor::Call: Expecting '{kind.lower()}' to be present",
    )


@pytest.mark.parametrize(
    ("kind", "body", "missing"),
    [
        ("UPDATE", {}, "update.status"),
        ("UPDATE", {"status": {"task_id": {"value": "q"}}}, "update.status.state"),
        ("UPDATE", {"status": {"state": "TASK_RUNNING"}}, "update.status.task_id"),
        ("MESSAGE", {}, "message.data"),
    ],
)
def test_executor_call_without_a_required_field_is_400(
    placed: Placed, kind: str, body: Call, missing: str
) -> None:
    assert answer(placed.call(kind, body)) == (
        400,
        f"Failed to convert JSON into Call protobuf: Missing required fields: {missing}",
    )


def test_an_update_with_an_unknown_state_is_400(placed: Placed) -> None:
    # TaskStatus.state is a required enum: an unknown name fails the conversion.
    assert answer(placed.call("UPDATE", {"status": status(state="TASK_DANCING")})) == (
        400,
        "Failed to convert JSON into Call protobuf: Failed to find enum for 'TASK_DANCING'",
    )


def test_an_update_needs_a_uuid(placed: Placed) -> None:
    body = status()
    del body["uuid"]
    assert answer(placed.call("UPDATE", {"status": body})) == (
        400,
        "Failed to validate Executor::Call: Expecting 'uuid' to be present",
    )


@pytest.mark.parametrize("raw", [with_version(0), with_version(6), with_version(15), b"short"])
def test_an_update_whose_uuid_is_not_an_rfc_4122_uuid_is_400(placed: Placed, raw: bytes) -> None:
    assert answer(placed.call("UPDATE", {"status": status(uuid=b64(raw))})) == (
        400,
        "Failed to validate Executor::Call: Not a valid UUID",
    )


def test_an_update_for_another_executor_is_400(placed: Placed) -> None:
    body = status(executor_id={"value": "other"})
    assert answer(placed.call("UPDATE", {"status": body})) == (
        400,
        "Failed to validate Executor::Call:"
        " ExecutorID in Call: quiet does not match ExecutorID in TaskStatus: other",
    )


@pytest.mark.parametrize("source", [None, "SOURCE_AGENT", "SOURCE_MASTER", "SOURCE_NOWHERE"])
def test_an_update_must_come_from_source_executor(placed: Placed, source: str | None) -> None:
    # An unset (or unknown) source reads as the enum's first value, SOURCE_MASTER.
    body = status(source=source) if source else {**status(), "source": None}
    framework = placed.framework_id["value"]
    assert answer(placed.call("UPDATE", {"status": body})) == (
        400,
        f"Failed to validate Executor::Call: Received Call from executor quiet of framework"
        f" {framework} with invalid source, expecting 'SOURCE_EXECUTOR'",
    )


def test_an_update_may_not_be_task_staging(placed: Placed) -> None:
    framework = placed.framework_id["value"]
    assert answer(placed.call("UPDATE", {"status": status(state="TASK_STAGING")})) == (
        400,
        f"Failed to validate Executor::Call: Received TASK_STAGING from executor quiet of"
        f" framework {framework} which is not allowed",
    )


def test_an_unknown_framework_or_executor_on_the_agent_is_400(placed: Placed) -> None:
    stranger = placed.call("SUBSCRIBE", {}, framework_id={"value": "stranger"})
    assert answer(stranger) == (400, "Framework cannot be found")
    who = placed.call("SUBSCRIBE", {}, executor_id={"value": "who"})
    assert answer(who) == (400, "Executor cannot be found")


def test_an_update_before_subscribing_is_403(placed: Placed) -> None:
    assert answer(placed.call("UPDATE", {"status": status()})) == (
        403,
        "Executor is not subscribed",
    )


def test_a_heartbeat_is_202_before_any_lookup(placed: Placed) -> None:
    # src/slave/http.cpp: HEARTBEAT may carry dummy ids, so it is answered at once.
    dummy = {"framework_id": {"value": "x"}, "executor_id": {"value": "y"}}
    assert placed.call("HEARTBEAT", **dummy).status_code == 202


def test_a_valid_update_from_a_subscribed_executor_is_202_and_reaches_the_scheduler(
    subscribed: Placed, scheduler: RawScheduler
) -> None:
    body = status(uuid=b64(uuid.uuid1().bytes), executor_id={"value": "quiet"})
    assert answer(subscribed.call("UPDATE", {"status": body})) == (202, "")
    running = scheduler.wait_update("q", "TASK_RUNNING", ack=False)
    assert running["uuid"] == body["uuid"] and running["source"] == "SOURCE_EXECUTOR"
    message = subscribed.call("MESSAGE", {"data": b64(b"hello")})
    assert message.status_code == 202
    event = scheduler.wait_for(lambda e: e["type"] == "MESSAGE")
    assert base64.b64decode(event["message"]["data"]) == b"hello"


def test_a_subscribed_executor_still_gets_the_validation_answers(subscribed: Placed) -> None:
    bad = status(uuid=b64(with_version(0)))
    assert answer(subscribed.call("UPDATE", {"status": bad})) == (
        400,
        "Failed to validate Executor::Call: Not a valid UUID",
    )
    assert answer(subscribed.call("UNKNOWN")) == (501, "501 Not Implemented.")
