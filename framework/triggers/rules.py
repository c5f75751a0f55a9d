"""What a trigger is and which files fire it: the spec of POST /v1/triggers, the
completeness rule, and the names and ids a firing derives. Pure: no store, no watching.

Every id a firing uses (the dataset's name, the job's or workflow's id) follows from the
trigger's id and the file, so doing a firing again after a crash resubmits the same job,
which the engine answers as a no-op."""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from femto.datasets import DEFAULT_PARTITIONS
from femto.engine.admission import admit
from femto.errors import FemtoError, Invalid
from femto.jobs.limits import Limits
from femto.jobs.names import NAME_PATTERN
from femto.workflows.spec import plan_workflow

NEW = "@new"
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".swp", ".crdownload", "~")
DEFAULT_PATTERN = "*.npy"
MAX_PARTITIONS = 1024  # of one fired file
_NAME = re.compile(NAME_PATTERN)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Watch:
    """A directory (with a file-name pattern) or a dataset-name pattern, never both."""

    directory: str | None
    pattern: str  # of file names, or of dataset names
    host: str | None = None  # the agent whose disk holds the directory (locality)
    partitions: int = DEFAULT_PARTITIONS  # each fired file is split into up to this many

    @property
    def datasets(self) -> bool:
        return self.directory is None


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    name: str
    watch: Watch
    submit: dict[str, Any]  # a job spec, or a workflow ("steps"), with "@new" in it

    @property
    def is_workflow(self) -> bool:
        return "steps" in self.submit

    def document(self) -> dict[str, Any]:
        watch: dict[str, Any] = (
            {"datasets": self.watch.pattern} if self.watch.datasets else
            {"directory": self.watch.directory, "pattern": self.watch.pattern,
             "host": self.watch.host, "partitions": self.watch.partitions})
        return {"name": self.name, "watch": watch, "submit": self.submit}


def _fail(loc: str, msg: str) -> Invalid:
    return Invalid(f"invalid trigger: {loc}: {msg}", [{"loc": loc, "msg": msg}])


def parse_trigger(body: Any, limits: Limits) -> TriggerSpec:
    """The trigger a POST /v1/triggers body asks for, or Invalid naming the field. The
    submit part is checked as its job or workflow would be, with a stand-in for "@new"."""
    if not isinstance(body, dict):
        raise _fail("body", "must be a JSON object")
    unknown = sorted(set(body) - {"name", "watch", "submit"})
    if unknown:
        raise _fail(unknown[0], "unknown field")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _fail("name", f"must match {NAME_PATTERN}")
    watch = _parse_watch(body.get("watch"))
    submit = body.get("submit")
    if not isinstance(submit, dict):
        raise _fail("submit", "must be a job spec or a workflow (a JSON object)")
    if "id" in submit:
        raise _fail("submit.id", "the trigger picks each firing's id")
    if NEW not in _inputs(submit):
        raise _fail("submit", f'name the new input as "{NEW}" in its inputs')
    spec = TriggerSpec(name, watch, submit)
    try:
        check_submit(spec, limits)
    except FemtoError as exc:
        raise Invalid(f"invalid trigger: submit: {exc.message}",
                      [{"loc": f"submit.{d.get('loc', '')}".rstrip("."), "msg": d.get("msg", "")}
                       for d in exc.details] or [{"loc": "submit", "msg": exc.message}]) from exc
    return spec


def _parse_watch(watch: Any) -> Watch:
    if not isinstance(watch, dict):
        raise _fail("watch", 'must be {"directory", "pattern"} or {"datasets"}')
    if ("directory" in watch) == ("datasets" in watch):
        raise _fail("watch", 'give either "directory" or "datasets"')
    if "datasets" in watch:
        unknown = sorted(set(watch) - {"datasets"})
        pattern = watch["datasets"]
        if unknown:
            raise _fail(f"watch.{unknown[0]}", "unknown field")
        if not isinstance(pattern, str) or not pattern:
            raise _fail("watch.datasets", "must be a dataset-name pattern, as raw-*")
        return Watch(None, pattern)
    unknown = sorted(set(watch) - {"directory", "pattern", "host", "partitions"})
    if unknown:
        raise _fail(f"watch.{unknown[0]}", "unknown field")
    directory, pattern = watch["directory"], watch.get("pattern", DEFAULT_PATTERN)
    host, partitions = watch.get("host"), watch.get("partitions", DEFAULT_PARTITIONS)
    if not isinstance(directory, str) or not directory.startswith("/"):
        raise _fail("watch.directory", "must be an absolute path")
    if not isinstance(pattern, str) or not pattern or "/" in pattern:
        raise _fail("watch.pattern", "must be a file-name pattern, as *.npy")
    if host is not None and (not isinstance(host, str) or not host):
        raise _fail("watch.host", "must be an agent's host name")
    if type(partitions) is not int or not 1 <= partitions <= MAX_PARTITIONS:
        raise _fail("watch.partitions", f"must be an integer from 1 to {MAX_PARTITIONS}")
    return Watch(str(PurePosixPath(directory)), pattern, host, partitions)


def _inputs(submit: Any) -> list[Any]:
    if "steps" in submit:
        steps = submit["steps"] if isinstance(submit["steps"], dict) else {}
        return [i for s in steps.values() for i in _inputs(s)]
    inputs = submit.get("inputs") if isinstance(submit, dict) else None
    return inputs if isinstance(inputs, list) else []


def check_submit(spec: TriggerSpec, limits: Limits) -> None:
    """Raise what POST /v1/jobs or /v1/workflows would for the spec a firing submits."""
    filled = fill(spec.submit, "stand-in", str(uuid.uuid4()))
    if spec.is_workflow:
        plan_workflow(filled, limits, new_id=lambda: str(uuid.uuid4()))
    else:
        admit(filled, limits)


def fill(submit: dict[str, Any], dataset: str, firing_id: str) -> dict[str, Any]:
    """The job spec or workflow a firing submits: "@new" as an input names `dataset`,
    within an output name it is replaced by it; the id is the firing's."""
    filled = copy.deepcopy(submit)
    specs = list(filled["steps"].values()) if "steps" in filled else [filled]
    for spec in specs:
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("inputs"), list):
            spec["inputs"] = [dataset if i == NEW else i for i in spec["inputs"]]
        if isinstance(spec.get("output"), str):
            spec["output"] = spec["output"].replace(NEW, dataset)
    filled["id"] = firing_id
    return filled


# ----- which files count --------------------------------------------------


def is_temporary(name: str) -> bool:
    """Names that writers use before renaming into place: dotfiles (rsync's .x.XXXX,
    editors' swap files) and the usual partial-download suffixes."""
    return name.startswith(".") or name.endswith(TEMPORARY_SUFFIXES)


def matches(watch: Watch, name: str) -> bool:
    """Whether a file (or, for a dataset watch, a dataset) of this name may fire."""
    if watch.datasets:
        return fnmatch.fnmatchcase(name, watch.pattern)
    return not is_temporary(name) and fnmatch.fnmatchcase(name, watch.pattern)


@dataclass(frozen=True, slots=True)
class Seen:
    """What a look at a file found: its size and change time, and how long it must be
    (from its .npy header), None when the header is not there or not valid yet."""

    size: int
    mtime_ns: int
    expected: int | None


def complete(before: Seen, now: Seen) -> bool:
    """A file counts once its .npy header is whole and the file is exactly as long as the
    header says, unchanged between two looks a quiet interval apart: a slowly written
    file is never read short, and a file renamed into place counts on its first settle."""
    return (now.expected is not None and now.size == now.expected
            and (before.size, before.mtime_ns) == (now.size, now.mtime_ns))


# ----- what a firing is called --------------------------------------------


def fired_key(trigger_id: str, item: str) -> str:
    return f"{trigger_id}/{item}"


def firing_id(trigger_id: str, item: str) -> str:
    """The submitted job's (or workflow's) id: the same on every leader, after any crash."""
    return str(uuid.uuid5(uuid.UUID(trigger_id), item))


def dataset_name(trigger: str, trigger_id: str, file: str) -> str:
    """The dataset a fired file is registered as: the trigger's name and the file's stem,
    with a digest so that two files whose names clean up alike stay apart."""
    stem = _UNSAFE.sub("_", PurePosixPath(file).stem).strip("_") or "file"
    digest = hashlib.sha256(fired_key(trigger_id, file).encode()).hexdigest()[:8]
    return f"{trigger[:56]}.{stem[:60]}.{digest}"
