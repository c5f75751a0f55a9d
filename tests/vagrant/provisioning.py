"""Running vagrant/provision/ into a temporary root, and reading the units it wrote.

A root other than / gets the files and units the box would get, paths inside them being
the box's (/etc/femto/token); `exec_start` maps such paths into the root, which is all
the root prefix implies, and leaves every other word of the command as written.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VAGRANT = REPO / "vagrant"
PROVISION = VAGRANT / "provision"
UNITS = Path("etc/systemd/system")


def require(tool: str) -> str:
    """The tool's path; a failure (never a skip) naming how CI installs it."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"`{tool}` is not installed: tests/run installs it "
                    "(apt-get install -y vagrant shellcheck)")
    return path


def run_provision(script: str, root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs provision/SCRIPT into ROOT with this test run's venv."""
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("FEMTO_", "MESOS_"))}
    run_env.update(FEMTO_ROOT=str(root), FEMTO_VENV=sys.prefix, FEMTO_SRC=str(REPO), **env)
    return subprocess.run(["bash", str(PROVISION / script)], env=run_env, capture_output=True,
                          text=True, timeout=120)


def provision(script: str, root: Path, **env: str) -> str:
    """Runs provision/SCRIPT into ROOT, which must succeed; its output."""
    done = run_provision(script, root, **env)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def unit_names(root: Path) -> set[str]:
    return {p.name for p in (root / UNITS).glob("*.service")}


def directive(root: Path, unit: str, key: str) -> list[str]:
    """The values of KEY= lines in the unit's file."""
    lines = (root / UNITS / unit).read_text().splitlines()
    return [line.split("=", 1)[1] for line in lines if line.startswith(f"{key}=")]


def in_root(root: Path, word: str) -> str:
    """A box path that the provisioning wrote under the root, as it is there."""
    if word.startswith("/") and (root / word.lstrip("/")).exists():
        return str(root / word.lstrip("/"))
    return word


def exec_start(root: Path, unit: str) -> list[str]:
    """The unit's one ExecStart command, its box paths mapped into the root."""
    (line,) = directive(root, unit, "ExecStart")
    # systemd would expand these; the provisioning refuses to write them (unit_word).
    assert "%" not in line and "$" not in line, line
    return [in_root(root, word) for word in shlex.split(line)]
