"""The box's files, short of booting it: shellcheck on every script, `vagrant validate` on
the Vagrantfile, `systemd-analyze verify` on every unit the provisioning writes, and
provisioning twice changing nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.vagrant.provisioning import (
    UNITS,
    VAGRANT,
    directive,
    exec_start,
    provision,
    require,
    unit_names,
)

SCRIPTS = sorted(VAGRANT.rglob("*.sh"))
PORTS = "8080 8081"


def test_shellcheck_passes_on_every_script_in_vagrant() -> None:
    shellcheck = require("shellcheck")
    names = {p.relative_to(VAGRANT).as_posix() for p in SCRIPTS}
    assert {"demo.sh", "provision/lib.sh", "provision/zookeeper.sh", "provision/mongodb.sh",
            "provision/mesos.sh", "provision/femto.sh"} <= names
    done = subprocess.run([shellcheck, "-x", *map(str, SCRIPTS)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def vagrant_validate(tmp_path: Path, provider: str, *args: str, **env: str) -> \
        subprocess.CompletedProcess[str]:
    vagrant = require("vagrant")
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("VAGRANT_", "FEMTO_"))}
    # A private Vagrant home, and the machine's state (.vagrant/) outside the checkout.
    run_env.update(VAGRANT_HOME=str(tmp_path / "home"), VAGRANT_DOTFILE_PATH=str(tmp_path / "dot"),
                   VAGRANT_DEFAULT_PROVIDER=provider, VAGRANT_CHECKPOINT_DISABLE="1", **env)
    return subprocess.run([vagrant, "validate", *args], cwd=VAGRANT, env=run_env,
                          capture_output=True, text=True, timeout=120)


def test_vagrant_validate_passes_for_both_providers(tmp_path: Path) -> None:
    # Debian's vagrant brings the libvirt provider (vagrant-libvirt), which validates its
    # own block; VirtualBox is not packaged for Debian, and its provider refuses to load
    # without VBoxManage, so its block is left out (--ignore-provider), the rest checked.
    plugins = subprocess.run([require("vagrant"), "plugin", "list"], capture_output=True,
                             text=True, timeout=120, env={**os.environ,
                                                          "VAGRANT_HOME": str(tmp_path / "home")})
    assert "vagrant-libvirt" in plugins.stdout, (
        "Debian's vagrant-libvirt is not installed: tests/run installs it\n" + plugins.stdout)
    libvirt = vagrant_validate(tmp_path, "libvirt")
    assert libvirt.returncode == 0, libvirt.stdout + libvirt.stderr
    assert "validated successfully" in libvirt.stdout
    virtualbox = vagrant_validate(tmp_path, "virtualbox", "--ignore-provider")
    assert virtualbox.returncode == 0, virtualbox.stdout + virtualbox.stderr
    embedded = vagrant_validate(tmp_path, "libvirt", FEMTO_MESOS="embedded")
    assert embedded.returncode == 0, embedded.stdout + embedded.stderr
    assert not (VAGRANT / ".vagrant").exists()


def test_vagrant_validate_refuses_a_wrong_setting(tmp_path: Path) -> None:
    """So that the test above can fail: a bad FEMTO_MESOS, and an unknown libvirt option."""
    wrong = vagrant_validate(tmp_path, "libvirt", FEMTO_MESOS="pymesos")
    assert wrong.returncode != 0
    assert "FEMTO_MESOS must be real or embedded" in wrong.stdout + wrong.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    text = (VAGRANT / "Vagrantfile").read_text().replace("lv.memory", "lv.memmory")
    (broken / "Vagrantfile").write_text(text)
    done = subprocess.run([require("vagrant"), "validate"], cwd=broken, capture_output=True,
                          text=True, timeout=120, env={
                              **os.environ, "VAGRANT_HOME": str(tmp_path / "home"),
                              "VAGRANT_DOTFILE_PATH": str(tmp_path / "dot"),
                              "VAGRANT_DEFAULT_PROVIDER": "libvirt"})
    assert done.returncode != 0
    assert "memmory" in done.stdout + done.stderr


def provision_all(root: Path, mesos: str) -> None:
    provision("zookeeper.sh", root)
    provision("mongodb.sh", root)
    provision("mesos.sh", root, FEMTO_MESOS=mesos, FEMTO_MESOS_UNITS_ONLY="1")
    provision("femto.sh", root, FEMTO_MESOS=mesos, FEMTO_PORTS=PORTS)


EXPECTED_UNITS = {
    "real": {"zookeeper.service", "mesos-master.service", "mesos-agent.service",
             "femto-8080.service", "femto-8081.service"},
    "embedded": {"zookeeper.service", "femto-localmesos.service", "femto-8080.service",
                 "femto-8081.service"},
}


@pytest.mark.parametrize("mesos", ["real", "embedded"])
def test_systemd_analyze_verify_passes_on_every_unit_written(tmp_path: Path, mesos: str) -> None:
    systemd_analyze = require("systemd-analyze")
    root = tmp_path / "root"
    provision_all(root, mesos)
    units = unit_names(root)
    assert units == EXPECTED_UNITS[mesos]
    # verify resolves everything under --root: the system's own units (sysinit.target and
    # the like) and every ExecStart program. Programs not built or installed here (Mesos,
    # java, the box's venv) get stand-ins, so that the units themselves are what is checked.
    shutil.copytree("/lib/systemd/system", root / "lib/systemd/system", symlinks=True)
    for unit in units:
        program = root / exec_start(root, unit)[0].lstrip("/")
        if not program.exists():
            program.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy("/bin/true", program)
    done = subprocess.run(
        [systemd_analyze, "verify", f"--root={root}", "--man=no",
         *(str(root / UNITS / unit) for unit in sorted(units))],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # Unknown keys and bad values are only warnings to verify: none may be printed.
    assert done.stdout + done.stderr == ""


def test_real_mesos_units_register_in_zookeeper_and_find_the_master_there(tmp_path: Path) -> None:
    root = tmp_path / "root"
    provision("mesos.sh", root, FEMTO_MESOS_UNITS_ONLY="1")
    master = exec_start(root, "mesos-master.service")
    assert {"--zk=zk://127.0.0.1:2181/mesos", "--quorum=1", "--registry=replicated_log"} \
        <= set(master)
    agent = exec_start(root, "mesos-agent.service")
    assert {"--master=zk://127.0.0.1:2181/mesos", "--launcher=posix",
            "--isolation=posix/cpu,posix/mem"} <= set(agent)


def test_the_token_is_given_by_file_and_provisioning_twice_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    provision_all(root, "real")
    token = (root / "etc/femto/token").read_text()
    assert len(token) == 64 and (root / "etc/femto/token").stat().st_mode & 0o077 == 0
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    provision_all(root, "real")
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == files
    for port in PORTS.split():
        (line,) = directive(root, f"femto-{port}.service", "ExecStart")
        assert token not in line and "--api-token-file /etc/femto/token" in line
        assert directive(root, f"femto-{port}.service", "Restart") == ["on-failure"]
