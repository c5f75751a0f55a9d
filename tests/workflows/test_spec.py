"""The checks made on a workflow before anything is stored: each names its step and field."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from femto.errors import Invalid
from femto.jobs.limits import Limits
from femto.workflows.spec import Plan, check_data, plan_workflow, step_job_id

WID = "5f0c1d2e-0000-4000-8000-000000000002"
SIGNAL = {"name": "signal", "dtype": "<f8", "shape": [100],
          "partitions": [{"length": 50}, {"length": 50}]}


def plan(steps: dict[str, Any], **extra: Any) -> Plan:
    return plan_workflow({"name": "w", "id": WID, "steps": steps, **extra}, Limits(),
                         new_id=lambda: str(uuid.uuid4()))


def locs(steps: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        plan(steps)
    assert caught.value.status == 422
    return {d["loc"]: d["msg"] for d in caught.value.details}


def test_refs_become_the_upstream_outputs_and_ids_follow_the_steps() -> None:
    p = plan({"a": {"operation": "real2bin", "inputs": ["signal"]},
              "b": {"operation": "sum", "inputs": ["@a"]}})
    assert p.steps["a"].output == f"w-a-{WID[:8]}"
    assert p.steps["b"].job_spec["inputs"] == [f"w-a-{WID[:8]}"]
    assert p.steps["b"].job_spec["name"] == "w-b" and p.steps["b"].output is None
    assert p.steps["b"].needs == ("a",)
    assert p.steps["a"].job == step_job_id(WID, "a") == str(uuid.uuid5(uuid.UUID(WID), "a"))
    assert p.document["steps"]["b"]["inputs"] == ["@a"]  # the spec as written


def test_the_same_body_has_the_same_fingerprint() -> None:
    steps = {"a": {"operation": "count", "inputs": ["signal"]}}
    assert plan(steps).fingerprint == plan(steps).fingerprint
    assert plan(steps).fingerprint != plan({"a": {"operation": "sum",
                                                  "inputs": ["signal"]}}).fingerprint


def test_a_cycle_is_named() -> None:
    found = locs({"a": {"operation": "real2bin", "inputs": ["@c"]},
                  "b": {"operation": "real2bin", "inputs": ["@a"]},
                  "c": {"operation": "real2bin", "inputs": ["@b"]}})
    [(loc, msg)] = found.items()
    assert loc.startswith("steps.") and loc.endswith(".inputs")
    assert msg.startswith("cycle: ") and {"a", "b", "c"} <= set(msg[7:].split(" -> "))


def test_a_step_reading_itself_is_a_cycle() -> None:
    assert locs({"a": {"operation": "real2bin", "inputs": ["@a"]}}) == {
        "steps.a.inputs.0": "cycle: a -> a"}


def test_a_dangling_ref_names_the_input() -> None:
    assert locs({"a": {"operation": "sum", "inputs": ["@nope"]}}) == {
        "steps.a.inputs.0": "unknown step 'nope'"}


def test_a_query_cannot_be_an_input() -> None:
    found = locs({"q": {"operation": "count", "inputs": ["signal"]},
                  "a": {"operation": "real2bin", "inputs": ["@q"]}})
    assert list(found) == ["steps.a.inputs.0"] and "query" in found["steps.a.inputs.0"]


def test_each_step_goes_through_job_admission() -> None:
    found = locs({"s": {"operation": "sliding_mean", "params": {"window": 0},
                        "inputs": ["signal"]},
                  "t": {"operation": "nope", "inputs": ["signal"]}})
    assert "steps.s.params.window" in found and "steps.t.operation" in found


def test_limits_apply_to_steps() -> None:
    with pytest.raises(Invalid) as caught:
        plan_workflow({"name": "w", "steps": {"s": {
            "operation": "sum", "inputs": ["signal"], "resources": {"cpus": 99.0}}}},
            Limits(task_cpus=1.0), new_id=lambda: WID)
    assert [d["loc"] for d in caught.value.details] == ["steps.s.resources.cpus"]


def test_shape_errors_name_the_field() -> None:
    with pytest.raises(Invalid) as caught:
        plan_workflow({"name": "w", "id": "x", "steps": {}, "extra": 1}, Limits(),
                      new_id=lambda: WID)
    assert {d["loc"] for d in caught.value.details} == {"id", "steps", "extra"}
    with pytest.raises(Invalid):
        plan_workflow([], Limits(), new_id=lambda: WID)


def test_keep_false_needs_a_consumer_and_a_dataset() -> None:
    assert "steps.q.keep" in locs({"q": {"operation": "sum", "inputs": ["signal"],
                                         "keep": False}})
    p = plan({"a": {"operation": "real2bin", "inputs": ["signal"], "keep": False}})
    with pytest.raises(Invalid) as caught:
        check_data(p, {"signal": SIGNAL}.get, lambda name: False)
    assert [d["loc"] for d in caught.value.details] == ["steps.a.keep"]


def test_unknown_datasets_and_taken_outputs() -> None:
    p = plan({"a": {"operation": "real2bin", "inputs": ["nothing"], "output": "signal"},
              "b": {"operation": "real2bin", "inputs": ["@a"], "output": "busy"}})
    with pytest.raises(Invalid) as caught:
        check_data(p, {"signal": SIGNAL}.get, lambda name: name == "busy")
    assert {d["loc"]: d["msg"] for d in caught.value.details} == {
        "steps.a.inputs.0": "unknown dataset 'nothing'",
        "steps.a.output": "dataset 'signal' exists",
        "steps.b.output": "dataset 'busy' exists",
    }


def test_inputs_that_exist_must_suit_the_operation() -> None:
    other = {**SIGNAL, "name": "other", "shape": [60],
             "partitions": [{"length": 30}, {"length": 30}]}
    p = plan({"a": {"operation": "add", "inputs": ["signal", "other"]}})
    with pytest.raises(Invalid) as caught:
        check_data(p, {"signal": SIGNAL, "other": other}.get, lambda name: False)
    assert [d["loc"] for d in caught.value.details] == ["steps.a.inputs"]


def test_a_long_chain_is_checked_without_recursion() -> None:
    steps: dict[str, Any] = {"s0": {"operation": "real2bin", "inputs": ["signal"]}}
    steps.update({f"s{i}": {"operation": "real2bin", "inputs": [f"@s{i - 1}"]}
                  for i in range(1, 1000)})
    assert len(plan(steps).steps) == 1000
    steps["s0"]["inputs"] = ["@s999"]
    [(loc, msg)] = locs(steps).items()
    assert loc == "steps.s0.inputs" and msg.startswith("cycle: s0 -> s1 -> s2")


def test_too_many_steps() -> None:
    steps = {f"s{i}": {"operation": "count", "inputs": ["signal"]} for i in range(1001)}
    assert "steps" in locs(steps)


def test_a_bad_output_is_reported_not_replaced() -> None:
    assert "steps.a.output" in locs({"a": {"operation": "real2bin", "inputs": ["signal"],
                                           "output": 5}})
