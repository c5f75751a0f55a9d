"""Every figure as femto beside its peer, with the ratio and the target where the issue
sets one: the printed table and results.json's "figures" are made from the same list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from bench.stats import ratio

Row = tuple[str, str, str, str, str, str]
HEADER: Row = ("benchmark", "figure", "femto", "peer", "ratio", "target")


@dataclass(frozen=True)
class Target:
    """A limit on the ratio (femto / peer) or on femto's own figure."""

    of: Literal["ratio", "femto"]
    at_most: float | None = None
    at_least: float | None = None

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        if self.at_most is not None and value > self.at_most:
            return False
        return not (self.at_least is not None and value < self.at_least)

    def describe(self) -> str:
        what = "ratio" if self.of == "ratio" else "femto"
        if self.at_most is not None:
            return f"{what} <= {num(self.at_most)}"
        return f"{what} >= {num(self.at_least)}"


@dataclass(frozen=True)
class Figure:
    benchmark: str
    figure: str
    femto: float | None
    peer: float | None = None
    peer_name: str = ""
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.femto is None or self.peer is None else ratio(self.femto, self.peer)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.target.met(self.ratio if self.target.of == "ratio" else self.femto)

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}

    def row(self) -> Row:
        target = ""
        if self.target is not None:
            target = f"{self.target.describe()}: {'met' if self.met else 'MISSED'}"
        peer = f"{num(self.peer)} {self.peer_name}" if self.peer is not None else ""
        return (self.benchmark, self.figure, num(self.femto), peer, num(self.ratio), target)


def num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"


def throughput_figures(r: dict[str, Any]) -> list[Figure]:
    dask, pool = r["peer"]["dask"], r["peer"]["pool"]
    n = f"{r['tasks']} no-ops"
    return [
        Figure("throughput", f"tasks/s end-to-end ({n})", r["tasks_per_s"],
               dask["tasks_per_s"], "Dask", Target("ratio", at_least=2.0)),
        Figure("throughput", "overhead ms/task (steady)", r["overhead_ms_per_task"],
               dask["overhead_ms_per_task"], "Dask", Target("ratio", at_most=0.5)),
        Figure("throughput", "CPU ms/task beyond the work, all processes",
               r["cpu_ms_per_task"], dask["cpu_ms_per_task"], "Dask"),
        Figure("throughput", "tasks/s end-to-end", r["tasks_per_s"], pool["tasks_per_s"],
               "Pool"),
        Figure("throughput", "overhead ms/task (steady)", r["overhead_ms_per_task"],
               pool["overhead_ms_per_task"], "Pool"),
    ]


def data_job_figures(r: dict[str, Any]) -> list[Figure]:
    out = []
    for run in r["runs"]:
        p = run["peer"]
        what = f"histogram {run['elements']:.0e} / {r['partitions']}: s"
        out += [
            Figure("data_job", what, run["wall_s"], p["mmap_pool_s"], "Pool(mmap)",
                   Target("ratio", at_most=1.10)),
            Figure("data_job", what, run["wall_s"], p["dask_s"], "Dask",
                   Target("ratio", at_most=0.5)),
            Figure("data_job", what, run["wall_s"], p["limit_s"], "limit",
                   Target("ratio", at_most=1.5) if run["elements"] >= 2 * 10**7 else None),
            Figure("data_job", what, run["wall_s"], p["pickling_pool_s"], "Pool(pickle)"),
        ]
    return out


def api_figures(r: dict[str, Any]) -> list[Figure]:
    out = []
    for endpoint, label in (("post_jobs", "POST /v1/jobs"), ("get_job", "GET /v1/jobs/{id}")):
        mine, peer = r[endpoint], r["peer"][endpoint]
        out += [
            Figure("api", f"{label} req/s (offered {num(mine['offered_rps'])})", mine["rps"],
                   peer["rps"], "FastAPI"),
            Figure("api", f"{label} p50 ms", mine["p50_ms"], peer["p50_ms"], "FastAPI"),
            Figure("api", f"{label} p99 ms", mine["p99_ms"], peer["p99_ms"], "FastAPI",
                   Target("femto", at_most=r["target"]["p99_ms"][endpoint])),
        ]
    return out


def failover_figures(r: dict[str, Any]) -> list[Figure]:
    return [Figure("failover", "s from SIGKILL to a job accepted", r["seconds_to_accept"],
                   r["peer"]["seconds_to_lead"], "kazoo",
                   Target("femto", at_most=r["target"]["seconds"]))]


def memory_figures(r: dict[str, Any]) -> list[Figure]:
    return [
        Figure("memory", f"RSS bytes per queued task ({r['tasks']})", r["bytes_per_task"],
               r["peer"]["bytes_per_task"], "dict",
               Target("femto", at_most=r["target"]["bytes_per_task"])),
        Figure("memory", "  of which jobs (no datasets)", r["job_bytes_per_task"]),
    ]


def master_memory_figures(r: dict[str, Any]) -> list[Figure]:
    return [Figure("master_memory", f"embedded master RSS growth per 1,000 jobs ({r['jobs']})",
                   r["bytes_per_1000_jobs_after"], r["peer"]["bytes_per_1000_jobs"],
                   "filling")]


def stream_figures(r: dict[str, Any]) -> list[Figure]:
    """An append's latency to a readable output, beside the NumPy work one append needs."""
    what = (f"append to output readable, s ({r['appends']} x {r['rows_per_append']:.0e} f64"
            f" at {num(r['rate_per_s'])}/s)")
    return [Figure("stream", f"{what} {q}", r[f"{q}_s"], r["peer"]["seconds"],
                   r["peer"]["name"]) for q in ("p50", "p99")]


def scale_figures(r: dict[str, Any]) -> list[Figure]:
    """The fitted growth per agent and per 1,000 queued tasks, against its own standard
    error: flat is a slope within noise of zero."""
    slopes = [(f"{what} slope per {per}", f"{key}_slope_per_{suffix}")
              for per, suffix in (("agent", "agent"), ("1,000 queued", "1000_queued"))
              for what, key in (("CPU ms/task", "cpu_ms_per_task"),
                                ("offer round p50 ms", "offer_round_ms"))]
    slopes.append(("first job's extra CPU ms slope per agent (executor start-up)",
                   "first_job_extra_cpu_ms_slope_per_agent"))
    return [Figure("scale", f"{label} (+- stderr)", r[key]["slope"], r[key]["stderr"],
                   "stderr") for label, key in slopes if key in r]


FIGURES: dict[str, Callable[[dict[str, Any]], list[Figure]]] = {
    "throughput": throughput_figures, "data_job": data_job_figures, "api": api_figures,
    "failover": failover_figures, "memory": memory_figures,
    "master_memory": master_memory_figures, "scale": scale_figures,
    "stream": stream_figures,
}


def figures(results: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    for key, make in FIGURES.items():
        result = results.get(key)
        if result is not None and "skipped" not in result and "error" not in result:
            out.extend(make(result))
    return out


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for key, make in FIGURES.items():
        result = results.get(key)
        if result is None:
            continue
        if "skipped" in result:
            out.append((key, "SKIPPED", result["skipped"], "", "", ""))
        elif "error" in result:
            out.append((key, "ERROR", result["error"], "", "", ""))
        else:
            out.extend(f.row() for f in make(result))
    return out


def render(table: list[Row]) -> str:
    """Aligned columns; a long cell (a skip reason) runs on instead of widening them all."""
    widths = [min(42, max(len(row[i]) for row in [HEADER, *table])) for i in range(len(HEADER))]
    lines = []
    for row in [HEADER, *table]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip())
    return "\n".join(lines)
