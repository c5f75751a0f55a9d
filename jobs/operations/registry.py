"""The operations this Python environment has: every `femto.operations` entry point.

A package makes an operation available by naming it in its pyproject:

    [project.entry-points."femto.operations"]
    weighted_mean = "femto_weighted_mean:WeightedMean"

femto's own operations are registered the same way in femto's pyproject; nothing here
knows them. The scheduler and each executor scan their own environment, so an agent may
lack an operation the scheduler has: the scheduler sends the operation's `Package` with
each task, and the executor names it in the failure.

A plugin that cannot be used is never fatal: it is logged, and kept in `problems` under
its name so that whoever asks for it learns why. Two packages registering one name are
such a problem (femto does not guess which one was meant): the name is withdrawn.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel, ConfigDict

from femto.jobs.operations.base import Operation, Query, Transform

GROUP = "femto.operations"

log = logging.getLogger(__name__)


class Package(BaseModel):
    """The distribution that provides an operation, as `pip` knows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True, slots=True)
class Registered:
    operation: Operation[Any]
    package: Package
    entry_point: str  # "module:attribute", for messages


@dataclass(frozen=True)
class Registry:
    operations: dict[str, Registered] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # name -> why it is unusable here

    def names(self) -> list[str]:
        return sorted(self.operations)


class PluginError(Exception):
    """An entry point that does not give a usable operation."""


def _package(entry: EntryPoint) -> Package:
    dist = entry.dist
    if dist is None:  # an entry point made up in code, not read from installed metadata
        return Package(name="(unknown)", version="")
    return Package(name=dist.name, version=dist.version)


def _operation(entry: EntryPoint) -> Operation[Any]:
    try:
        loaded = entry.load()
    except Exception as exc:
        raise PluginError(f"cannot import {entry.value}: {type(exc).__name__}: {exc}") from exc
    if inspect.isclass(loaded) and issubclass(loaded, Query | Transform):
        try:
            loaded = loaded()
        except Exception as exc:
            raise PluginError(f"{entry.value}() raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, Query | Transform):
        raise PluginError(f"{entry.value} is not a femto operation (a subclass or instance of "
                          f"femto.jobs.operations.Query or Transform)")
    params = getattr(loaded, "Params", None)
    if not (inspect.isclass(params) and issubclass(params, BaseModel)) or params is BaseModel:
        raise PluginError(f"{entry.value}.Params is not a pydantic model (a subclass of "
                          "pydantic.BaseModel)")
    if getattr(loaded, "name", None) != entry.name:
        raise PluginError(f"{entry.value} is named {getattr(loaded, 'name', None)!r}, but its "
                          f"entry point registers it as {entry.name!r}")
    return loaded


def load() -> Registry:
    """Scan the environment's entry points now (importing every plugin)."""
    found: dict[str, list[tuple[EntryPoint, Package]]] = {}
    for entry in entry_points(group=GROUP):
        found.setdefault(entry.name, []).append((entry, _package(entry)))
    registry = Registry()
    for name, candidates in sorted(found.items()):
        if len(candidates) > 1:
            who = " and ".join(sorted(f"{package} ({entry.value})"
                                     for entry, package in candidates))
            registry.problems[name] = (f"operation {name!r} is registered by {who}; uninstall "
                                       "one of them (femto will not guess which one was meant)")
            continue
        entry, package = candidates[0]
        try:
            registry.operations[name] = Registered(_operation(entry), package, entry.value)
        except PluginError as exc:
            registry.problems[name] = f"operation {name!r} of {package} cannot be used: {exc}"
    for problem in registry.problems.values():
        log.error("%s", problem)
    return registry


@functools.cache
def registry() -> Registry:
    """This process's operations, scanned on first use."""
    return load()


def rescan() -> Registry:
    """Scan again: for a long-lived process (an executor) asked for an operation it did not
    have, which may have been installed since."""
    importlib.invalidate_caches()  # so that a module installed since can be imported
    registry.cache_clear()
    return registry()
