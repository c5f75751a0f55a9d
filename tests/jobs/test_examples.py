"""The example specs validate and their inputs are generated deterministically."""

import json
from pathlib import Path

import numpy as np
import pytest

import femto.jobs.examples
from femto.jobs.examples.data import example_dataset, example_names
from femto.jobs.limits import Limits
from femto.jobs.operations import operation_names
from femto.jobs.spec import parse_job_spec
from femto.workflows.spec import plan_workflow

EXAMPLES = Path(femto.jobs.examples.__file__).parent
FILES = sorted(EXAMPLES.glob("*.json"))
# A workflow (a JSON object with "steps") is a file of its own kind beside the job specs.
WORKFLOWS = [p for p in FILES if "steps" in json.loads(p.read_text())]
SPECS = [p for p in FILES if p not in WORKFLOWS]


def test_pt_histogram_is_the_design_example() -> None:
    assert json.loads((EXAMPLES / "pt-histogram.json").read_text()) == {
        "name": "pt-histogram",
        "operation": "histogram",
        "params": {"bins": 50, "range": [0.0, 100.0]},
        "inputs": ["events"],
        "output": None,
        "resources": {"cpus": 0.25, "mem": 64},
        "max_retries": 3,
    }


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_example_specs_validate_and_have_example_inputs(path: Path) -> None:
    spec = parse_job_spec(json.loads(path.read_text()))
    assert spec.name == path.stem
    assert set(spec.inputs) <= set(example_names())


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_example_workflows_plan_and_read_example_inputs(path: Path) -> None:
    body = json.loads(path.read_text())
    plan = plan_workflow(body, Limits(), new_id=lambda: "5f0c1d2e-0000-4000-8000-000000000003")
    assert plan.name == path.stem and len(plan.steps) >= 3
    plain = {name for step in plan.steps.values() for name in step.job_spec["inputs"]
             if name not in {s.output for s in plan.steps.values()}}
    assert plain <= set(example_names())


def test_the_two_workflow_examples_are_there() -> None:
    assert {p.stem for p in WORKFLOWS} == {"signal-pipeline", "signal-diamond"}


def test_examples_cover_every_family() -> None:
    used = {parse_job_spec(json.loads(p.read_text())).operation for p in SPECS}
    assert {"histogram", "sum", "sliding_mean", "command"} <= used <= set(operation_names())


def test_example_data_is_deterministic() -> None:
    events = example_dataset("events")
    assert events.dtype == np.float64 and events.shape == (2_000_000,)
    assert np.array_equal(events, example_dataset("events"))
    assert np.isfinite(events).all() and (events > 0).all()
    assert example_dataset("signal").shape == (1_000_000,)


def test_unknown_example_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="events"):
        example_dataset("nope")
