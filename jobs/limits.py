"""Upper bounds on what one request may ask for, settable by the operator
(`femto serve --limit NAME=VALUE`). Checked where a request is admitted, so that a job
already accepted is never refused later under a lower limit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationInfo


@dataclass(frozen=True, slots=True)
class Limits:
    bins: int = 100_000  # a histogram's counts travel in every partial and in the result
    window: int = 10_000_000  # sliding_mean reads window-1 elements before each partition
    partitions: int = 10_000  # of one dataset: one task, and one stored blob, each
    task_cpus: float = 256.0
    task_mem: float = 4 << 20  # MB: 4 TiB
    upload_bytes: int = 4 << 30  # one .npy upload, dataset or output

    @classmethod
    def parse(cls, items: list[str]) -> Limits:
        """Limits from `NAME=VALUE` items (names with - or _); ValueError naming a bad one."""
        kinds = {f.name: f.type for f in dataclasses.fields(cls)}
        changes: dict[str, Any] = {}
        for item in items:
            name, sep, text = item.partition("=")
            key = name.strip().replace("-", "_")
            if not sep or key not in kinds:
                known = ", ".join(k.replace("_", "-") for k in kinds)
                raise ValueError(f"--limit {item!r}: expected NAME=VALUE with NAME one of {known}")
            try:
                value = float(text) if kinds[key] == "float" else int(text)
            except ValueError:
                raise ValueError(f"--limit {item!r}: {text!r} is not a number") from None
            if not value > 0:
                raise ValueError(f"--limit {item!r}: must be positive")
            changes[key] = value
        return dataclasses.replace(cls(), **changes)

    def check(self, name: str, value: float) -> None:
        """ValueError naming the limit when `value` is over it."""
        limit = getattr(self, name)
        if value > limit:
            raise ValueError(
                f"{value:g} is over the limit of {limit:g} "
                f"(the operator sets it with femto serve --limit {name.replace('_', '-')}=N)"
            )


def check_limit(info: ValidationInfo, name: str, value: float) -> None:
    """In a pydantic validator: check `value` against the Limits in the validation context,
    if the caller gave some (admission does; re-reading a stored spec does not)."""
    limits = (info.context or {}).get("limits")
    if limits is not None:
        limits.check(name, value)
