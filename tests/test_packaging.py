"""What `pip install femto` puts into a user's environment: one import name for femto's own
code, beside the two libraries that know nothing of femto."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    # From a copy: setuptools reuses a checkout's build/ folder, which would hide a file
    # that a fresh build leaves out.
    source = out / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".mypy_tree"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True, capture_output=True,
    )
    (built,) = out.glob("femto-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_installs_femto_mesosapi_and_localmesos_and_nothing_generic(
    wheel: zipfile.ZipFile,
) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist() if ".dist-info" not in name}
    assert tops == {"femto", "mesosapi", "localmesos"}


def test_every_source_file_is_in_the_wheel_where_its_package_maps_it(
    wheel: zipfile.ZipFile,
) -> None:
    # A subpackage missing from pyproject's list would silently drop out of the wheel.
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {**{p: p for p in setuptools["packages"] if "." not in p},
               **setuptools["package-dir"]}
    names = set(wheel.namelist())
    missing = []
    for package, folder in folders.items():
        for source in (REPO / folder).rglob("*"):
            relative = source.relative_to(REPO / folder)
            shipped = (".py", ".json", ".html", ".js", ".css")
            if source.suffix not in shipped or "__pycache__" in relative.parts:
                continue
            installed = "/".join([*package.split("."), *relative.parts])
            if installed not in names:
                missing.append(installed)
    assert not missing


def test_the_femto_command_and_python_dash_m_femto_are_the_same_cli(
    wheel: zipfile.ZipFile,
) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "femto = femto.cli:main" in wheel.read(entry_points).decode()
    run = subprocess.run([sys.executable, "-m", "femto", "--help"], capture_output=True,
                         text=True, cwd="/", check=True)
    assert "serve" in run.stdout and "submit" in run.stdout


def test_the_source_folders_are_not_importable_outside_the_checkout() -> None:
    for generic in ("framework", "executor", "jobs"):
        run = subprocess.run([sys.executable, "-c", f"import {generic}"], capture_output=True,
                             text=True, cwd="/")
        assert run.returncode != 0 and "No module named" in run.stderr, generic


def test_the_dashboard_ships_every_asset_and_the_chart_librarys_licence(
    wheel: zipfile.ZipFile,
) -> None:
    # Served by femto itself (no CDN), so the wheel must carry every file the page loads,
    # and the vendored library's licence with it.
    names = set(wheel.namelist())
    static = Path(__file__).resolve().parents[1] / "framework" / "api" / "static"
    assets = {f"femto/api/static/{p.relative_to(static).as_posix()}"
              for p in static.rglob("*") if p.is_file()}
    assert "femto/api/static/js/main.js" in assets
    assert "femto/api/static/vendor/uplot/LICENSE" in assets
    assert assets <= names, sorted(assets - names)


def test_the_wheel_carries_the_licence_py_typed_and_its_metadata(
    wheel: zipfile.ZipFile,
) -> None:
    names = wheel.namelist()
    assert "femto/py.typed" in names  # PEP 561: femto's annotations are for its users too
    (licence,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert "Apache License" in wheel.read(licence).decode()[:200]
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = wheel.read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text
    assert "Classifier: Topic :: System :: Distributed Computing" in text
