"""Validation of scheduler and executor calls, with the real master's and agent's answers.

The order and the texts follow Mesos 1.12: the JSON body is converted into a Call
(src/master/http.cpp `Master::Http::scheduler`, src/slave/http.cpp `Http::executor`:
"Failed to parse body into JSON", "Failed to convert JSON into Call protobuf"), then
validated (src/master/validation.cpp `scheduler::call::validate`,
src/common/validation.cpp `validateExecutorCall`: "Failed to validate ..."). What needs
state (the framework, the executor, the stream) the master and the agent check after.
"""

from __future__ import annotations

import json
from typing import Any

from localmesos.protocol import CallRejected
from localmesos.schema import ConversionError, convert, decode_bytes

JSON = "application/json"
PROTOBUF = "application/x-protobuf"

# stout's `UUID::fromBytes` (boost's uuid::version()): 16 bytes whose version nibble is a
# known RFC 4122 version, 1 to 5 in the boost of Debian 12. The variant is not checked.
_KNOWN_UUID_VERSIONS = frozenset(range(1, 6))


def uuid_error(encoded: str) -> str | None:
    """None if the base64 `encoded` bytes are a UUID stout accepts, else stout's error."""
    raw = decode_bytes(encoded)
    if len(raw) != 16 or raw[6] >> 4 not in _KNOWN_UUID_VERSIONS:
        return "Not a valid UUID"
    return None


def id_error(value: str) -> str | None:
    """src/common/validation.cpp `validateID`: non-empty, no control characters or slashes."""
    if not value:
        return "ID must be non-empty"
    if any(ord(c) < 32 or ord(c) == 127 or c in "/\\" for c in value):
        return f"'{value}' contains invalid characters"
    return None


def method_not_allowed(method: str) -> CallRejected:
    """libprocess' MethodNotAllowed({"POST"}, method)."""
    return CallRejected(
        405, f"405 Method Not Allowed. Expecting one of {{ 'POST' }}, but received '{method}'."
    )


def parse_call(content_type: str | None, body: bytes, message: str) -> dict[str, Any]:
    """The body as a Call of protobuf message `message` ("scheduler.Call" or
    "executor.Call"), or the 400 / 415 Mesos answers."""
    if content_type is None:
        raise CallRejected(400, "Expecting 'Content-Type' to be present")
    if content_type == PROTOBUF:
        raise CallRejected(415, f"localmesos speaks {JSON} only, not {PROTOBUF}")
    if content_type != JSON:  # compared exactly, as Mesos does
        raise CallRejected(415, f"Expecting 'Content-Type' of {JSON} or {PROTOBUF}")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallRejected(400, f"Failed to parse body into JSON: {exc}") from None
    try:
        return convert(value, message)
    except ConversionError as exc:
        raise CallRejected(400, f"Failed to convert JSON into Call protobuf: {exc}") from None


def accepts_json(accept: str | None) -> bool:
    """Whether the Accept header allows JSON (an absent header allows everything)."""
    if accept is None:
        return True
    media = [a.split(";")[0].strip().lower() for a in accept.split(",")]
    return any(m in (JSON, "*/*", "application/*") for m in media)


def not_acceptable() -> CallRejected:
    return CallRejected(406, f"Expecting 'Accept' to allow '{PROTOBUF}' or '{JSON}'")


def framework_info_error(info: dict[str, Any], known: dict[str, Any] | None) -> str | None:
    """What src/master/validation.cpp `framework::validate` (and, for a framework the
    master knows with FrameworkInfo `known`, `framework::validateUpdate`) finds wrong with
    a subscribing FrameworkInfo. Role names themselves are not checked here."""
    multi_role = any(c.get("type") == "MULTI_ROLE" for c in info.get("capabilities", []))
    roles = info.get("roles", [])
    if multi_role and "role" in info:
        return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
    if not multi_role and roles:
        return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
    duplicates = sorted({r for r in roles if roles.count(r) > 1})
    if duplicates:
        return f"'FrameworkInfo.roles' contains duplicate items: {{ {', '.join(duplicates)} }}"
    framework_id = info.get("id", {}).get("value", "")
    if framework_id and id_error(framework_id) is not None:
        return id_error(framework_id)
    if known is None:
        return None
    if info.get("principal") != known.get("principal"):
        return "Changing framework's principal is not allowed."
    if info["user"] != known["user"]:
        return (
            "Updating 'FrameworkInfo.user' is unsupported; attempted to update from"
            f" '{known['user']}' to '{info['user']}'"
        )
    old, new = bool(known.get("checkpoint", False)), bool(info.get("checkpoint", False))
    if old != new:
        return (
            "Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from"
            f" '{str(old).lower()}' to '{str(new).lower()}'"
        )
    return None


# Call types whose payload section must be present (scheduler::call::validate).
_SCHEDULER_SECTIONS = {
    "ACCEPT": "accept",
    "DECLINE": "decline",
    "ACCEPT_INVERSE_OFFERS": "accept_inverse_offers",
    "DECLINE_INVERSE_OFFERS": "decline_inverse_offers",
    "KILL": "kill",
    "SHUTDOWN": "shutdown",
    "ACKNOWLEDGE": "acknowledge",
    "ACKNOWLEDGE_OPERATION_STATUS": "acknowledge_operation_status",
    "RECONCILE": "reconcile",
    "RECONCILE_OPERATIONS": "reconcile_operations",
    "MESSAGE": "message",
    "REQUEST": "request",
    "UPDATE_FRAMEWORK": "update_framework",
}


def validate_scheduler_call(call: dict[str, Any]) -> None:
    """src/master/validation.cpp `scheduler::call::validate` (no authentication here)."""
    error = _scheduler_call_error(call)
    if error is not None:
        raise CallRejected(400, f"Failed to validate scheduler::Call: {error}")


def _scheduler_call_error(call: dict[str, Any]) -> str | None:
    kind = call.get("type")
    if kind is None:
        return "Expecting 'type' to be present"
    if kind == "SUBSCRIBE":
        if "subscribe" not in call:
            return "Expecting 'subscribe' to be present"
        # Unset ids compare as the empty id, as protobuf's default FrameworkID does.
        info_id = call["subscribe"]["framework_info"].get("id", {}).get("value", "")
        if info_id != call.get("framework_id", {}).get("value", ""):
            return "'framework_id' differs from 'subscribe.framework_info.id'"
        return None
    if "framework_id" not in call:
        return "Expecting 'framework_id' to be present"
    section = _SCHEDULER_SECTIONS.get(kind)
    if section is not None and section not in call:
        return f"Expecting '{section}' to be present"
    if kind == "ACKNOWLEDGE":
        return uuid_error(call["acknowledge"]["uuid"])
    return None


def validate_executor_call(call: dict[str, Any]) -> None:
    """src/common/validation.cpp `validateExecutorCall`."""
    error = _executor_call_error(call)
    if error is not None:
        raise CallRejected(400, f"Failed to validate Executor::Call: {error}")


def _executor_call_error(call: dict[str, Any]) -> str | None:
    kind = call.get("type")
    if kind is None:
        return "Expecting 'type' to be present"
    section = {"SUBSCRIBE": "subscribe", "UPDATE": "update", "MESSAGE": "message"}.get(kind)
    if section is not None and section not in call:
        return f"Expecting '{section}' to be present"
    if kind != "UPDATE":
        return None
    status = call["update"]["status"]
    if "uuid" not in status:
        return "Expecting 'uuid' to be present"
    error = uuid_error(status["uuid"])
    if error is not None:
        return error
    executor_id = call["executor_id"]["value"]
    framework_id = call["framework_id"]["value"]
    if "executor_id" in status and status["executor_id"]["value"] != executor_id:
        return (
            f"ExecutorID in Call: {executor_id} does not match ExecutorID in TaskStatus:"
            f" {status['executor_id']['value']}"
        )
    # An unset (or unknown) source reads as the enum's first value, SOURCE_MASTER.
    if status.get("source", "SOURCE_MASTER") != "SOURCE_EXECUTOR":
        return (
            f"Received Call from executor {executor_id} of framework {framework_id}"
            " with invalid source, expecting 'SOURCE_EXECUTOR'"
        )
    if status["state"] == "TASK_STAGING":
        return (
            f"Received TASK_STAGING from executor {executor_id} of framework {framework_id}"
            " which is not allowed"
        )
    return None
