"""`femto trigger ...` and `femto triggers` against a live scheduler: a trigger added from
a file fires on a new dataset, and is shown, listed, paused and removed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from femto.service import Service
from tests.cli.helpers import a_mistake, femto, femto_json, save, write_spec
from tests.waiting import wait_for


def test_add_list_show_pause_and_remove_a_trigger(served: Service, tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "t.json", name="cli-t", watch={"datasets": "cli-raw-*"},
                      submit={"name": "cli-count", "operation": "count", "inputs": ["@new"]})
    added = femto(served, "trigger", "add", str(spec)).stdout
    assert added.startswith("trigger cli-t: ACTIVE, fired 0 times\n")
    femto(served, "dataset", "put", "cli-raw-1", str(save(tmp_path / "d.npy", np.ones(5))))
    wait_for(lambda: femto_json(served, "trigger", "show", "cli-t")["fired"] == 1, 30,
             "the trigger to fire")
    shown = femto(served, "trigger", "show", "cli-t").stdout
    assert "fired 1 times" in shown and "last: " in shown and "cli-raw-1 -> job " in shown
    listed = femto(served, "triggers").stdout.splitlines()
    assert listed[0].split() == ["NAME", "STATE", "FIRED", "ERRORS", "LAST", "WATCHES"]
    assert listed[1].split()[:4] == ["cli-t", "ACTIVE", "1", "0"]
    assert listed[1].endswith("datasets cli-raw-*")
    assert femto_json(served, "trigger", "pause", "cli-t")["state"] == "PAUSED"
    assert "ACTIVE" in femto(served, "trigger", "resume", "cli-t").stdout
    assert femto(served, "trigger", "rm", "cli-t").stdout.startswith("deleted trigger cli-t")
    assert femto_json(served, "triggers") == []
    a_mistake(femto(served, "trigger", "show", "cli-t", check=False), "cli-t", "404")
    a_mistake(femto(served, "trigger", "add", str(tmp_path / "none.json"), check=False),
              "cannot read trigger")
