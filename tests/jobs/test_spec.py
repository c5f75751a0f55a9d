"""Job spec validation names the faulty field; equal specs fingerprint equally."""

import json
import uuid
from typing import Any

import pytest

from femto.jobs.operations.histogram import HistogramParams
from femto.jobs.spec import SpecError, canonical_json, parse_job_spec, spec_fingerprint

SPEC: dict[str, Any] = {
    "name": "pt-histogram",
    "operation": "histogram",
    "params": {"bins": 50, "range": [0.0, 100.0]},
    "inputs": ["events"],
    "output": None,
    "resources": {"cpus": 0.25, "mem": 64},
    "max_retries": 3,
}


def locs(data: Any) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_job_spec(data)
    assert all(e["msg"] for e in caught.value.errors)
    return [e["loc"] for e in caught.value.errors]


def test_design_example_parses_with_typed_params() -> None:
    spec = parse_job_spec(SPEC)
    params = spec.parsed_params()
    assert isinstance(params, HistogramParams)
    assert (params.bins, params.range) == (50, (0.0, 100.0))
    assert spec.resources.cpus == 0.25 and spec.max_retries == 3 and spec.id is None


def test_defaults() -> None:
    spec = parse_job_spec({"name": "c", "operation": "count", "inputs": ["x"]})
    assert (spec.resources.cpus, spec.resources.mem, spec.max_retries) == (0.25, 64.0, 3)
    assert spec.output is None and spec.params == {"where": None}


def test_params_error_is_located_inside_params() -> None:
    with pytest.raises(SpecError) as caught:
        parse_job_spec({**SPEC, "params": {"bins": "x", "range": [0, 1]}})
    [error] = caught.value.errors
    assert error["loc"] == "params.bins"
    assert "params.bins" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": "has space"}, ["name"]),
        ({"name": "x" * 129}, ["name"]),
        ({"name": ""}, ["name"]),
        ({"colour": "red"}, ["colour"]),
        ({"inputs": ["a", "b"]}, ["inputs"]),
        ({"inputs": []}, ["inputs"]),
        ({"inputs": ["bad/name"]}, ["inputs.0"]),
        ({"output": "dataset"}, ["output"]),
        ({"params": {"bins": 5, "range": [0, 1], "colour": 1}}, ["params.colour"]),
        ({"resources": {"cpus": 0}}, ["resources.cpus"]),
        ({"resources": {"mem": -1}}, ["resources.mem"]),
        ({"resources": {"gpus": 1}}, ["resources.gpus"]),
        ({"max_retries": 101}, ["max_retries"]),
        ({"max_retries": -1}, ["max_retries"]),
        ({"max_retries": True}, ["max_retries"]),
        ({"id": "not-a-uuid"}, ["id"]),
    ],
)
def test_errors_name_the_field(change: dict, expected: list[str]) -> None:
    assert locs({**SPEC, **change}) == expected


def test_unknown_operation_lists_the_valid_ones() -> None:
    with pytest.raises(SpecError) as caught:
        parse_job_spec({**SPEC, "operation": "median"})
    [error] = caught.value.errors
    assert error["loc"] == "operation"
    assert "median" in error["msg"] and "histogram" in error["msg"] and "sliding_mean" in error[
        "msg"]


def test_missing_fields_and_non_objects() -> None:
    assert sorted(locs({"name": "x"})) == ["inputs", "operation"]
    assert locs([SPEC]) == [""]


def test_arity_of_a_binary_operation() -> None:
    spec = {"name": "s", "operation": "add", "inputs": ["a"], "output": "c"}
    assert locs(spec) == ["inputs"]
    assert parse_job_spec({**spec, "inputs": ["a", "b"]}).inputs == ["a", "b"]


def test_transforms_may_leave_the_output_name_to_the_engine() -> None:
    spec = parse_job_spec({"name": "s", "operation": "sliding_mean", "params": {"window": 4},
                           "inputs": ["a"]})
    assert spec.output is None


def test_id_is_kept_in_canonical_uuid_form() -> None:
    raw = uuid.uuid4()
    spec = parse_job_spec({**SPEC, "id": raw.hex.upper()})
    assert spec.id == str(raw)


def test_canonical_json_round_trips() -> None:
    spec = parse_job_spec({**SPEC, "id": str(uuid.uuid4())})
    text = canonical_json(spec)
    assert parse_job_spec(json.loads(text)) == spec
    assert canonical_json(parse_job_spec(json.loads(text))) == text


def test_fingerprint_ignores_id_spelling_and_defaults() -> None:
    plain = parse_job_spec(SPEC)
    same = parse_job_spec(
        {
            "max_retries": 3,
            "inputs": ["events"],
            "params": {"range": [0, 100], "bins": 50, "where": None},
            "operation": "histogram",
            "name": "pt-histogram",
            "id": str(uuid.uuid4()),
        }
    )
    assert spec_fingerprint(plain) == spec_fingerprint(same)
    for change in ({"max_retries": 4}, {"params": {"bins": 51, "range": [0, 100]}},
                   {"resources": {"cpus": 0.5}}, {"name": "other"}):
        assert spec_fingerprint(parse_job_spec({**SPEC, **change})) != spec_fingerprint(plain)


def test_output_format_changes_the_fingerprint_only_when_it_is_not_the_default() -> None:
    spec = {"name": "b", "operation": "real2bin", "inputs": ["a"], "output": "bits"}
    plain = parse_job_spec(spec)
    # A job stored before output_format existed is resubmitted with the same hash.
    assert "output_format" not in canonical_json(plain)
    assert spec_fingerprint(parse_job_spec({**spec, "output_format": "npy"})) == \
        spec_fingerprint(plain)
    hdf5 = parse_job_spec({**spec, "output_format": "hdf5"})
    assert spec_fingerprint(hdf5) != spec_fingerprint(plain)
    assert parse_job_spec(json.loads(canonical_json(hdf5))) == hdf5


def test_a_standing_job_appends_npy_outputs_only() -> None:
    spec = {"name": "s", "operation": "sliding_mean", "params": {"window": 3},
            "inputs": ["stream"], "output": "smooth", "standing": True}
    assert parse_job_spec(spec).standing
    with pytest.raises(SpecError) as caught:
        parse_job_spec({**spec, "output_format": "hdf5"})
    assert "output_format must be npy" in str(caught.value)


def test_fields_added_later_keep_the_fingerprint_at_their_defaults() -> None:
    spec = {"name": "s", "operation": "sliding_mean", "params": {"window": 3},
            "inputs": ["stream"], "output": "smooth"}
    plain = parse_job_spec(spec)
    assert "standing" not in canonical_json(plain)
    assert spec_fingerprint(parse_job_spec({**spec, "standing": False})) == \
        spec_fingerprint(plain)
    assert spec_fingerprint(parse_job_spec({**spec, "standing": True})) != \
        spec_fingerprint(plain)
