"""The printed table: one row per figure, femto beside its peer, and target misses."""

from __future__ import annotations

from typing import Any

Row = tuple[str, str, str, str, str, str]
HEADER: Row = ("benchmark", "figure", "femto", "peer", "ratio", "target")


def num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"


def verdict(value: float, limit: float) -> str:
    """'<= limit: met', or by how much it is missed."""
    if value <= limit:
        return f"<= {num(limit)}: met"
    return f"<= {num(limit)}: MISSED by {num(value - limit)} ({num(value / limit)}x)"


def throughput_rows(r: dict[str, Any]) -> list[Row]:
    p = r["peer"]
    n = f"{r['tasks']} no-ops"
    return [
        ("throughput", f"tasks/s end-to-end ({n})", num(r["tasks_per_s"]),
         num(p["tasks_per_s"]), num(r["tasks_per_s"] / p["tasks_per_s"]), ""),
        ("throughput", "tasks/s steady (p10-p90)", num(r["steady_tasks_per_s"]),
         num(p["steady_tasks_per_s"]), num(r["steady_tasks_per_s"] / p["steady_tasks_per_s"]),
         ""),
        ("throughput", "overhead_ms_per_task (steady)", num(r["overhead_ms_per_task"]),
         num(p["overhead_ms_per_task"]), num(r["ratio"]),
         verdict(r["overhead_ms_per_task"], r["target"]["overhead_ms_per_task"])),
        ("throughput", "overhead ms/task end-to-end", num(r["end_to_end_overhead_ms_per_task"]),
         num(p["end_to_end_overhead_ms_per_task"]), "", ""),
    ]


def data_job_rows(r: dict[str, Any]) -> list[Row]:
    p = r["peer"]
    what = f"histogram {r['elements']:.0e} x f64 / {r['partitions']}"
    return [
        ("data_job", f"{what}: s vs Pool({p['pool_workers']})", num(r["wall_s"]),
         num(p["pool_s"]), num(r["ratio_vs_pool"]),
         verdict(r["ratio_vs_pool"], r["target"]["ratio_vs_pool"])),
        ("data_job", f"{what}: s vs NumPy", num(r["wall_s"]), num(p["numpy_s"]),
         num(r["ratio_vs_numpy"]), ""),
        ("data_job", "upload s (not in the job time)", num(r["upload_s"]), "", "", ""),
    ]


def api_rows(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    limit = r["target"]["p99_ms"]
    for endpoint, label in (("post_jobs", "POST /v1/jobs"), ("get_job", "GET /v1/jobs/{id}")):
        mine, peer = r[endpoint], r["peer"][endpoint]
        rows += [
            ("api", f"{label} req/s (offered {num(mine['offered_rps'])})", num(mine["rps"]),
             num(peer["rps"]), num(mine["rps"] / peer["rps"]), ""),
            ("api", f"{label} p50 ms", num(mine["p50_ms"]), num(peer["p50_ms"]),
             num(mine["p50_ms"] / peer["p50_ms"]), ""),
            ("api", f"{label} p99 ms", num(mine["p99_ms"]), num(peer["p99_ms"]),
             num(r["ratio"][endpoint]), verdict(mine["p99_ms"], limit)),
        ]
    return rows


def failover_rows(r: dict[str, Any]) -> list[Row]:
    return [("failover", "s from SIGKILL to a job accepted", num(r["seconds_to_accept"]),
             num(r["peer"]["seconds_to_lead"]), num(r["ratio"]), "")]


def memory_rows(r: dict[str, Any]) -> list[Row]:
    return [
        ("memory", f"RSS bytes per queued task ({r['tasks']})", num(r["bytes_per_task"]),
         num(r["peer"]["bytes_per_task"]), num(r["ratio"]),
         verdict(r["bytes_per_task"], r["target"]["bytes_per_task"])),
        ("memory", "  of which jobs (no datasets)", num(r["job_bytes_per_task"]), "", "", ""),
    ]


def master_memory_rows(r: dict[str, Any]) -> list[Row]:
    return [("master_memory", f"embedded master RSS growth per 1,000 jobs ({r['jobs']})",
             num(r["bytes_per_1000_jobs_after"]), num(r["peer"]["bytes_per_1000_jobs"]),
             num(r["ratio"]), "")]


def stream_rows(r: dict[str, Any]) -> list[Row]:
    what = f"append to output readable, s ({r['appends']} x {r['rows_per_append']:.0e} f64"
    return [
        ("stream", f"{what} at {num(r['rate_per_s'])}/s) p50", num(r["p50_s"]),
         num(r["peer"]["seconds"]), num(r["ratio_p50"]), ""),
        ("stream", f"{what} at {num(r['rate_per_s'])}/s) p99", num(r["p99_s"]),
         num(r["peer"]["seconds"]), num(r["ratio_p99"]), ""),
    ]


ROWS = {"throughput": throughput_rows, "data_job": data_job_rows, "api": api_rows,
        "failover": failover_rows, "memory": memory_rows, "master_memory": master_memory_rows,
        "stream": stream_rows}


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for key, make in ROWS.items():
        if key not in results:
            continue
        result = results[key]
        if "skipped" in result:
            out.append((key, "SKIPPED", result["skipped"], "", "", ""))
        elif "error" in result:
            out.append((key, "ERROR", result["error"], "", "", ""))
        else:
            out.extend(make(result))
    return out


def render(table: list[Row]) -> str:
    """Aligned columns; a long cell (a skip reason) runs on instead of widening them all."""
    widths = [min(42, max(len(row[i]) for row in [HEADER, *table])) for i in range(len(HEADER))]
    lines = []
    for row in [HEADER, *table]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip())
    return "\n".join(lines)
