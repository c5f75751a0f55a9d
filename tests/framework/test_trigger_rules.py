"""The triggers' pure rules: what a trigger body may be, which files count and when, and
the names a firing derives (the same after any crash)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import numpy as np
import pytest

from femto.errors import Invalid
from femto.jobs.limits import Limits
from femto.jobs.names import NAME_PATTERN
from femto.triggers.files import look
from femto.triggers.rules import (
    Seen,
    Watch,
    complete,
    dataset_name,
    fill,
    firing_id,
    matches,
    parse_trigger,
)

SUM = {"name": "s", "operation": "sum", "inputs": ["@new"]}
DIRECTORY = {"directory": "/data/in", "pattern": "*.npy"}


def problem(body: object) -> list[str]:
    with pytest.raises(Invalid) as caught:
        parse_trigger(body, Limits())
    return [d["loc"] for d in caught.value.details]


def test_a_directory_trigger_and_a_dataset_trigger_parse() -> None:
    spec = parse_trigger({"name": "t", "watch": DIRECTORY, "submit": SUM}, Limits())
    assert spec.watch == Watch("/data/in", "*.npy")
    assert not spec.is_workflow
    named = parse_trigger({"name": "t", "watch": {"datasets": "raw-*"}, "submit": SUM}, Limits())
    assert named.watch.datasets and named.watch.pattern == "raw-*"


@pytest.mark.parametrize(("body", "loc"), [
    ([], "body"),
    ({"name": "t", "watch": DIRECTORY, "submit": SUM, "extra": 1}, "extra"),
    ({"name": "t t", "watch": DIRECTORY, "submit": SUM}, "name"),
    ({"name": "t", "watch": {**DIRECTORY, "datasets": "x"}, "submit": SUM}, "watch"),
    ({"name": "t", "watch": {"directory": "in"}, "submit": SUM}, "watch.directory"),
    ({"name": "t", "watch": {**DIRECTORY, "pattern": "a/*.npy"}, "submit": SUM},
     "watch.pattern"),
    ({"name": "t", "watch": {**DIRECTORY, "partitions": 0}, "submit": SUM}, "watch.partitions"),
    ({"name": "t", "watch": {"datasets": "raw-*", "host": "h"}, "submit": SUM}, "watch.host"),
    ({"name": "t", "watch": DIRECTORY, "submit": {**SUM, "inputs": ["d"]}}, "submit"),
    ({"name": "t", "watch": DIRECTORY, "submit": {**SUM, "id": str(uuid.uuid4())}},
     "submit.id"),
    ({"name": "t", "watch": DIRECTORY, "submit": {**SUM, "operation": "nope"}},
     "submit.operation"),
])
def test_a_bad_trigger_is_refused_naming_its_field(body: object, loc: str) -> None:
    assert loc in problem(body)


def test_a_workflow_is_checked_as_its_firings_will_be() -> None:
    steps = {"bin": {"operation": "real2bin", "inputs": ["@new"]},
             "total": {"operation": "sum", "inputs": ["@bin"]}}
    spec = parse_trigger({"name": "t", "watch": DIRECTORY,
                          "submit": {"name": "w", "steps": steps}}, Limits())
    assert spec.is_workflow
    bad = {**steps, "total": {"operation": "sum", "inputs": ["@nowhere"]}}
    assert any(loc.startswith("submit.steps.total")
               for loc in problem({"name": "t", "watch": DIRECTORY,
                                   "submit": {"name": "w", "steps": bad}}))


def test_fill_puts_the_dataset_where_new_was_and_the_firing_id_on_it() -> None:
    job = fill({**SUM, "inputs": ["@new", "other"], "output": "@new-out"}, "ds", "ID")
    assert job == {**SUM, "inputs": ["ds", "other"], "output": "ds-out", "id": "ID"}
    flow = fill({"name": "w", "steps": {"a": {"operation": "sum", "inputs": ["@new"]},
                                        "b": {"operation": "sum", "inputs": ["@a"]}}},
                "ds", "ID")
    assert flow["steps"]["a"]["inputs"] == ["ds"] and flow["steps"]["b"]["inputs"] == ["@a"]
    assert flow["id"] == "ID"


@pytest.mark.parametrize(("pattern", "name", "counts"), [
    ("*.npy", "a.npy", True), ("*.npy", "run 7.npy", True), ("*.npy", "a.txt", False),
    ("*.npy", "a.NPY", False), ("*.npy", ".a.npy", False),
    ("*", "a.npy.tmp", False), ("*", "a.npy.part", False), ("*", "a.npy~", False),
    ("*", "a.bin", True),
])
def test_temporary_and_unmatched_names_never_count(pattern: str, name: str,
                                                   counts: bool) -> None:
    assert matches(Watch("/d", pattern), name) is counts


def test_a_file_counts_when_whole_and_unchanged_between_two_looks() -> None:
    whole = Seen(size=208, mtime_ns=5, expected=208)
    assert complete(whole, whole)
    assert not complete(Seen(100, 4, 208), whole)  # it was still growing
    assert not complete(Seen(100, 4, 208), Seen(100, 4, 208))  # stalled short
    assert not complete(Seen(40, 4, None), Seen(40, 4, None))  # no header (yet)
    assert not complete(Seen(300, 4, 208), Seen(300, 4, 208))  # longer than its header says


def test_a_look_reads_the_length_a_header_promises(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.arange(50.0))
    data = path.read_bytes()
    seen = look(str(path))
    assert seen is not None and seen.expected == seen.size == len(data)
    path.write_bytes(data[:-8])  # the last element still to come
    seen = look(str(path))
    assert seen is not None and seen.expected == len(data) and seen.size < len(data)
    path.write_bytes(data[:20])  # the header itself cut short
    assert look(str(path)) == Seen(20, path.stat().st_mtime_ns, None)
    assert look(str(tmp_path / "gone.npy")) is None


def test_a_firing_names_the_same_things_on_every_leader() -> None:
    trigger_id = str(uuid.uuid4())
    assert firing_id(trigger_id, "a.npy") == firing_id(trigger_id, "a.npy")
    assert firing_id(trigger_id, "a.npy") != firing_id(trigger_id, "b.npy")
    assert firing_id(trigger_id, "a.npy") != firing_id(str(uuid.uuid4()), "a.npy")
    names = {dataset_name("t" * 128, trigger_id, f) for f in ("a b.npy", "a_b.npy", "é" * 200)}
    assert len(names) == 3
    assert all(re.fullmatch(NAME_PATTERN, n) for n in names)
