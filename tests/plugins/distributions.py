"""Packages installed for one test: a module and its `.dist-info` in a directory put on this
process's sys.path, which importlib.metadata reads as it reads site-packages. Only this
process sees them: executors, which Mesos starts with an environment of their own, do not."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from femto.jobs.operations.registry import registry


def write_distribution(root: Path, name: str, version: str, module: str, source: str,
                       operations: dict[str, str]) -> None:
    """`operations`: entry point name -> the attribute of `module` it loads."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = [f"{entry} = {module}:{attribute}" for entry, attribute in operations.items()]
    (info / "entry_points.txt").write_text("[femto.operations]\n" + "\n".join(lines) + "\n")


@contextmanager
def on_path(root: Path) -> Iterator[None]:
    """The distributions under `root` installed in this process, for the block."""
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.syspath_prepend(str(root))
            registry.cache_clear()
            yield
    finally:
        registry.cache_clear()  # scanned again without them


# An operation that is fine wherever it is installed.
TOTAL = """
    from typing import Any

    import numpy as np
    from pydantic import BaseModel, ConfigDict

    from femto.jobs.operations import Context, Query


    class NoParams(BaseModel):
        model_config = ConfigDict(extra="forbid")


    class Total(Query[NoParams]):
        \"\"\"The sum, by another name.\"\"\"

        name = "{name}"
        Params = NoParams

        def map(self, inputs: list[np.ndarray], params: NoParams, context: Context
                ) -> dict[str, Any]:
            return {{"value": float(inputs[0].sum())}}

        def reduce(self, partials: list[dict[str, Any]], params: NoParams) -> dict[str, Any]:
            return {{"value": sum(p["value"] for p in partials)}}
"""
