"""The protobuf messages of the v1 calls, and JSON -> protobuf conversion as Mesos does it.

Mesos turns a JSON body into a Call with stout's `protobuf::parse`
(3rdparty/stout/include/stout/protobuf.hpp): unknown field names are ignored, `null`
leaves a field unset, a value of the wrong JSON kind is an error, an unknown enum name
leaves an optional field unset (proto2) but fails a required one, `bytes` are base64,
and last the message must be initialized: every required field, at any depth, set.
Only the fields localmesos reads or Mesos requires are described here; other fields
are accepted without a check.
"""

from __future__ import annotations

import base64
import binascii
import string
from dataclasses import dataclass
from typing import Any

from mesosapi.taskstates import TaskState


@dataclass(frozen=True)
class Field:
    number: int  # proto field number: nested errors are listed in this order
    name: str
    kind: str  # string, bytes, double, uint64, int32, bool, "enum:<Enum>" or a MESSAGES name
    label: str = "optional"  # or "required", "repeated"


ENUMS: dict[str, frozenset[str]] = {
    "scheduler.Call.Type": frozenset(
        {
            "UNKNOWN", "SUBSCRIBE", "TEARDOWN", "ACCEPT", "DECLINE", "ACCEPT_INVERSE_OFFERS",
            "DECLINE_INVERSE_OFFERS", "REVIVE", "KILL", "SHUTDOWN", "ACKNOWLEDGE",
            "ACKNOWLEDGE_OPERATION_STATUS", "RECONCILE", "RECONCILE_OPERATIONS", "MESSAGE",
            "REQUEST", "SUPPRESS", "UPDATE_FRAMEWORK",
        }
    ),
    "executor.Call.Type": frozenset({"UNKNOWN", "SUBSCRIBE", "UPDATE", "MESSAGE", "HEARTBEAT"}),
    "TaskState": frozenset(s.value for s in TaskState),
    "TaskStatus.Source": frozenset({"SOURCE_MASTER", "SOURCE_AGENT", "SOURCE_EXECUTOR"}),
    "Value.Type": frozenset({"SCALAR", "RANGES", "SET", "TEXT"}),
    "ExecutorInfo.Type": frozenset({"UNKNOWN", "DEFAULT", "CUSTOM"}),
    "FrameworkInfo.Capability.Type": frozenset(
        {
            "UNKNOWN", "REVOCABLE_RESOURCES", "TASK_KILLING_STATE", "GPU_RESOURCES",
            "SHARED_RESOURCES", "PARTITION_AWARE", "MULTI_ROLE", "RESERVATION_REFINEMENT",
            "REGION_AWARE",
        }
    ),
    "Offer.Operation.Type": frozenset(
        {
            "UNKNOWN", "LAUNCH", "LAUNCH_GROUP", "RESERVE", "UNRESERVE", "CREATE", "DESTROY",
            "GROW_VOLUME", "SHRINK_VOLUME", "CREATE_DISK", "DESTROY_DISK",
        }
    ),
}  # fmt: skip

_ID = (Field(1, "value", "string", "required"),)

# Fields in declaration order (protobuf reports missing required fields in that order).
MESSAGES: dict[str, tuple[Field, ...]] = {
    "ID": _ID,
    "Value.Scalar": (Field(1, "value", "double", "required"),),
    "Value.Range": (Field(1, "begin", "uint64", "required"), Field(2, "end", "uint64", "required")),
    "Value.Ranges": (Field(1, "range", "Value.Range", "repeated"),),
    "Value.Set": (Field(1, "item", "string", "repeated"),),
    "Resource": (
        Field(1, "name", "string", "required"),
        Field(2, "type", "enum:Value.Type", "required"),
        Field(3, "scalar", "Value.Scalar"),
        Field(4, "ranges", "Value.Ranges"),
        Field(5, "set", "Value.Set"),
        Field(6, "role", "string"),
    ),
    "Environment.Variable": (
        Field(1, "name", "string", "required"),
        Field(2, "value", "string"),
    ),
    "Environment": (Field(1, "variables", "Environment.Variable", "repeated"),),
    "CommandInfo.URI": (Field(1, "value", "string", "required"),),
    "CommandInfo": (
        Field(1, "uris", "CommandInfo.URI", "repeated"),
        Field(2, "environment", "Environment"),
        Field(6, "shell", "bool"),
        Field(3, "value", "string"),
        Field(7, "arguments", "string", "repeated"),
        Field(5, "user", "string"),
    ),
    "ExecutorInfo": (
        Field(15, "type", "enum:ExecutorInfo.Type"),
        Field(1, "executor_id", "ID", "required"),
        Field(8, "framework_id", "ID"),
        Field(7, "command", "CommandInfo"),
        Field(5, "resources", "Resource", "repeated"),
        Field(9, "name", "string"),
        Field(4, "data", "bytes"),
    ),
    "TaskInfo": (
        Field(1, "name", "string", "required"),
        Field(2, "task_id", "ID", "required"),
        Field(3, "agent_id", "ID", "required"),
        Field(4, "resources", "Resource", "repeated"),
        Field(5, "executor", "ExecutorInfo"),
        Field(7, "command", "CommandInfo"),
        Field(6, "data", "bytes"),
    ),
    "TaskGroupInfo": (Field(1, "tasks", "TaskInfo", "repeated"),),
    "TaskStatus": (
        Field(1, "task_id", "ID", "required"),
        Field(2, "state", "enum:TaskState", "required"),
        Field(4, "message", "string"),
        Field(9, "source", "enum:TaskStatus.Source"),
        Field(3, "data", "bytes"),
        Field(5, "agent_id", "ID"),
        Field(7, "executor_id", "ID"),
        Field(6, "timestamp", "double"),
        Field(11, "uuid", "bytes"),
    ),
    "FrameworkInfo": (
        Field(1, "user", "string", "required"),
        Field(2, "name", "string", "required"),
        Field(3, "id", "ID"),
        Field(4, "failover_timeout", "double"),
        Field(5, "checkpoint", "bool"),
        Field(6, "role", "string"),
        Field(12, "roles", "string", "repeated"),
        Field(7, "hostname", "string"),
        Field(8, "principal", "string"),
        Field(10, "capabilities", "FrameworkInfo.Capability", "repeated"),
    ),
    "FrameworkInfo.Capability": (Field(1, "type", "enum:FrameworkInfo.Capability.Type"),),
    "Filters": (Field(1, "refuse_seconds", "double"),),
    "Offer.Operation.Launch": (Field(1, "task_infos", "TaskInfo", "repeated"),),
    "Offer.Operation.LaunchGroup": (
        Field(1, "executor", "ExecutorInfo", "required"),
        Field(2, "task_group", "TaskGroupInfo", "required"),
    ),
    "Offer.Operation": (
        Field(1, "type", "enum:Offer.Operation.Type"),
        Field(2, "launch", "Offer.Operation.Launch"),
        Field(7, "launch_group", "Offer.Operation.LaunchGroup"),
    ),
    "scheduler.Call.Subscribe": (Field(1, "framework_info", "FrameworkInfo", "required"),),
    "scheduler.Call.Accept": (
        Field(1, "offer_ids", "ID", "repeated"),
        Field(2, "operations", "Offer.Operation", "repeated"),
        Field(3, "filters", "Filters"),
    ),
    "scheduler.Call.Decline": (
        Field(1, "offer_ids", "ID", "repeated"),
        Field(2, "filters", "Filters"),
    ),
    "scheduler.Call.Roles": (Field(1, "roles", "string", "repeated"),),
    "scheduler.Call.Kill": (
        Field(1, "task_id", "ID", "required"),
        Field(2, "agent_id", "ID"),
    ),
    "scheduler.Call.Shutdown": (
        Field(1, "executor_id", "ID", "required"),
        Field(2, "agent_id", "ID", "required"),
    ),
    "scheduler.Call.Acknowledge": (
        Field(1, "agent_id", "ID", "required"),
        Field(2, "task_id", "ID", "required"),
        Field(3, "uuid", "bytes", "required"),
    ),
    "scheduler.Call.Reconcile.Task": (
        Field(1, "task_id", "ID", "required"),
        Field(2, "agent_id", "ID"),
    ),
    "scheduler.Call.Reconcile": (Field(1, "tasks", "scheduler.Call.Reconcile.Task", "repeated"),),
    "scheduler.Call.Message": (
        Field(1, "agent_id", "ID", "required"),
        Field(2, "executor_id", "ID", "required"),
        Field(3, "data", "bytes", "required"),
    ),
    "scheduler.Call": (
        Field(1, "framework_id", "ID"),
        Field(2, "type", "enum:scheduler.Call.Type"),
        Field(3, "subscribe", "scheduler.Call.Subscribe"),
        Field(4, "accept", "scheduler.Call.Accept"),
        Field(5, "decline", "scheduler.Call.Decline"),
        Field(6, "kill", "scheduler.Call.Kill"),
        Field(7, "shutdown", "scheduler.Call.Shutdown"),
        Field(8, "acknowledge", "scheduler.Call.Acknowledge"),
        Field(9, "reconcile", "scheduler.Call.Reconcile"),
        Field(10, "message", "scheduler.Call.Message"),
        Field(15, "revive", "scheduler.Call.Roles"),
        Field(16, "suppress", "scheduler.Call.Roles"),
    ),
    "executor.Call.Update": (Field(1, "status", "TaskStatus", "required"),),
    "executor.Call.Subscribe": (
        Field(1, "unacknowledged_tasks", "TaskInfo", "repeated"),
        Field(2, "unacknowledged_updates", "executor.Call.Update", "repeated"),
    ),
    "executor.Call.Message": (Field(2, "data", "bytes", "required"),),
    "executor.Call": (
        Field(1, "executor_id", "ID", "required"),
        Field(2, "framework_id", "ID", "required"),
        Field(3, "type", "enum:executor.Call.Type"),
        Field(4, "subscribe", "executor.Call.Subscribe"),
        Field(5, "update", "executor.Call.Update"),
        Field(6, "message", "executor.Call.Message"),
    ),
}

_BASE64 = frozenset(string.ascii_letters + string.digits + "+/")


class ConversionError(ValueError):
    """The JSON does not convert into the message; the text is the one stout gives."""


def decode_bytes(text: str) -> bytes:
    """A `bytes` field's value as stout's base64::decode reads it: everything up to the
    first '=' (padding is not checked), only the standard alphabet."""
    body = text.split("=", 1)[0]
    for char in body:
        if char not in _BASE64:
            raise ConversionError(f"Invalid character '{char}'")
    body = body[: len(body) - len(body) % 4] if len(body) % 4 == 1 else body
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error as exc:
        raise ConversionError(str(exc)) from None


def convert(value: Any, message: str) -> dict[str, Any]:
    """`value` as message `message`: the same JSON with unknown enum names of optional
    fields dropped (they read as unset), or ConversionError with Mesos' text."""
    if not isinstance(value, dict):
        raise ConversionError("Expecting a JSON object")
    converted = _convert_message(value, message)
    missing = _missing(converted, message, "")
    if missing:
        raise ConversionError("Missing required fields: " + ", ".join(missing))
    return converted


def _convert_message(obj: dict[str, Any], message: str) -> dict[str, Any]:
    result = dict(obj)
    for field in MESSAGES[message]:
        if field.name not in obj:
            continue
        value = obj[field.name]
        if value is None:
            del result[field.name]
            continue
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) and field.label != "repeated":
            raise ConversionError(f"Not expecting a JSON array for field '{field.name}'")
        converted = [c for c in (_convert_value(v, field) for v in items) if c is not _UNSET]
        if field.label == "repeated":
            # stout adds a single value given for a repeated field as its one element.
            result[field.name] = converted
        elif converted:
            result[field.name] = converted[0]
        else:
            del result[field.name]
    return result


_UNSET = object()

_JSON_KINDS = ((bool, "boolean"), (str, "string"), (int, "number"), (float, "number"),
               (dict, "object"), (list, "array"))  # fmt: skip


def _json_kind(value: Any) -> str:
    return next(name for kind, name in _JSON_KINDS if isinstance(value, kind))


def _convert_value(value: Any, field: Field) -> Any:
    wrong = ConversionError(f"Not expecting a JSON {_json_kind(value)} for field '{field.name}'")
    kind = field.kind
    if kind in MESSAGES:
        if not isinstance(value, dict):
            raise wrong
        return _convert_message(value, kind)
    if kind.startswith("enum:"):
        if not isinstance(value, str):
            raise wrong
        if value in ENUMS[kind[5:]]:
            return value
        if field.label == "required":
            raise ConversionError(f"Failed to find enum for '{value}'")
        return _UNSET
    if kind == "string":
        if not isinstance(value, str):
            raise wrong
        return value
    if kind == "bytes":
        if not isinstance(value, str):
            raise wrong
        try:
            decode_bytes(value)
        except ConversionError as exc:
            raise ConversionError(
                f"Failed to base64 decode bytes field '{field.name}': {exc}"
            ) from None
        return value
    if kind == "bool":
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            raise wrong
        return value
    # Numbers; stout also reads a string holding a JSON number.
    if isinstance(value, str):
        try:
            return float(value) if kind == "double" else int(value)
        except ValueError:
            raise ConversionError(
                f"Failed to parse '{value}' as a JSON number for field '{field.name}'"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong
    return value


def _missing(obj: dict[str, Any], message: str, prefix: str) -> list[str]:
    """Paths of unset required fields, as protobuf's InitializationErrorString lists them:
    this message's own (declaration order), then those inside set sub-messages (by number)."""
    fields = MESSAGES[message]
    missing = [prefix + f.name for f in fields if f.label == "required" and f.name not in obj]
    for field in sorted(fields, key=lambda f: f.number):
        if field.kind not in MESSAGES or field.name not in obj:
            continue
        if field.label == "repeated":
            for index, item in enumerate(obj[field.name]):
                missing += _missing(item, field.kind, f"{prefix}{field.name}[{index}].")
        else:
            missing += _missing(obj[field.name], field.kind, f"{prefix}{field.name}.")
    return missing
