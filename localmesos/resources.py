"""Mesos resources as plain values: scalars (cpus, mem, disk) and ranges (ports).

Quantities are kept with three decimals, as Mesos does, so that sums and
differences of fractional cpus never drift into over-commitment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Range = tuple[int, int]


class ResourceError(ValueError):
    """A resource in a request is malformed or of a kind localmesos does not support."""


def _fixed(value: float) -> float:
    return round(value, 3)


def _merge(ranges: list[Range]) -> list[Range]:
    merged: list[Range] = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def _remove(ranges: list[Range], taken: list[Range]) -> list[Range]:
    result = list(ranges)
    for t_begin, t_end in taken:
        kept: list[Range] = []
        for begin, end in result:
            if t_end < begin or t_begin > end:
                kept.append((begin, end))
                continue
            if begin < t_begin:
                kept.append((begin, t_begin - 1))
            if end > t_end:
                kept.append((t_end + 1, end))
        result = kept
    return _merge(result)


def _covers(ranges: list[Range], wanted: list[Range]) -> bool:
    return all(any(b <= w_begin and w_end <= e for b, e in ranges) for w_begin, w_end in wanted)


@dataclass(frozen=True)
class Resources:
    scalars: dict[str, float] = field(default_factory=dict)
    ranges: dict[str, list[Range]] = field(default_factory=dict)

    @classmethod
    def parse(cls, items: list[dict[str, Any]] | None) -> Resources:
        """Reads a list of protobuf-JSON `Resource`s; raises ResourceError naming the bad one."""
        scalars: dict[str, float] = {}
        ranges: dict[str, list[Range]] = {}
        for item in items or []:
            name = item.get("name")
            kind = item.get("type")
            if not isinstance(name, str) or not name:
                raise ResourceError(f"resource without a name: {item!r}")
            if item.get("reservations") or item.get("disk") or item.get("reservation"):
                raise ResourceError(
                    f"resource {name!r}: reservations and volumes are not supported"
                )
            if kind == "SCALAR":
                value = (item.get("scalar") or {}).get("value")
                if not isinstance(value, int | float) or value < 0:
                    raise ResourceError(f"resource {name!r}: scalar value must be a number >= 0")
                scalars[name] = _fixed(scalars.get(name, 0.0) + float(value))
            elif kind == "RANGES":
                spans: list[Range] = []
                for span in (item.get("ranges") or {}).get("range", []):
                    begin, end = span.get("begin"), span.get("end")
                    if not isinstance(begin, int) or not isinstance(end, int) or begin > end:
                        raise ResourceError(f"resource {name!r}: bad range {span!r}")
                    spans.append((begin, end))
                ranges[name] = _merge(ranges.get(name, []) + spans)
            else:
                raise ResourceError(f"resource {name!r}: type {kind!r} is not supported")
        return cls(scalars, ranges)

    def __add__(self, other: Resources) -> Resources:
        scalars = dict(self.scalars)
        for name, value in other.scalars.items():
            scalars[name] = _fixed(scalars.get(name, 0.0) + value)
        ranges = dict(self.ranges)
        for name, spans in other.ranges.items():
            ranges[name] = _merge(ranges.get(name, []) + spans)
        return Resources(scalars, ranges)

    def __sub__(self, other: Resources) -> Resources:
        """Assumes `self.contains(other)`; callers check before subtracting."""
        scalars = {
            name: _fixed(value - other.scalars.get(name, 0.0))
            for name, value in self.scalars.items()
        }
        ranges = {
            name: _remove(spans, other.ranges.get(name, [])) for name, spans in self.ranges.items()
        }
        return Resources(
            {k: v for k, v in scalars.items() if v > 0}, {k: v for k, v in ranges.items() if v}
        )

    def contains(self, other: Resources) -> bool:
        for name, value in other.scalars.items():
            if value > 0 and _fixed(self.scalars.get(name, 0.0) - value) < 0:
                return False
        return all(
            _covers(self.ranges.get(name, []), spans) for name, spans in other.ranges.items()
        )

    def is_empty(self) -> bool:
        return not any(v > 0 for v in self.scalars.values()) and not any(self.ranges.values())

    def offerable(self) -> bool:
        """Mesos offers only when at least a minimal cpu or memory share is free."""
        return self.scalars.get("cpus", 0.0) >= 0.01 or self.scalars.get("mem", 0.0) >= 32

    def to_proto(self, allocation_role: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for name, value in sorted(self.scalars.items()):
            if value > 0:
                items.append({"name": name, "type": "SCALAR", "scalar": {"value": value}})
        for name, spans in sorted(self.ranges.items()):
            if spans:
                items.append(
                    {
                        "name": name,
                        "type": "RANGES",
                        "ranges": {"range": [{"begin": b, "end": e} for b, e in spans]},
                    }
                )
        for item in items:
            item["role"] = "*"
            if allocation_role is not None:
                item["allocation_info"] = {"role": allocation_role}
        return items

    def __str__(self) -> str:
        parts = [f"{name}:{value:g}" for name, value in sorted(self.scalars.items()) if value > 0]
        parts += [
            f"{name}:[" + ", ".join(f"{b}-{e}" for b, e in spans) + "]"
            for name, spans in sorted(self.ranges.items())
            if spans
        ]
        return "; ".join(parts) or "{}"

    def to_state(self) -> dict[str, Any]:
        """The flat shape /master/state uses: `{"cpus": 1.0, "ports": "[31000-32000]"}`."""
        flat: dict[str, Any] = {"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
        flat.update(self.scalars)
        for name, spans in self.ranges.items():
            flat[name] = "[" + ", ".join(f"{b}-{e}" for b, e in spans) + "]"
        return flat


def allocation_role(resources: list[dict[str, Any]] | None, default: str) -> str:
    """The role resources are allocated to (a task's or an executor's are all of one role,
    MESOS-6636), or `default` for resources without allocation info."""
    for resource in resources or []:
        role = (resource.get("allocation_info") or {}).get("role")
        if isinstance(role, str):
            return role
    return default
