"""Human output: headed tables, a job's summary, results with a histogram drawn beside its
numbers. Pure text: each function returns lines, the commands print them."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import pairwise
from typing import Any

BLOCKS = " ▏▎▍▌▋▊▉█"  # eighths of a character cell, for bars finer than a cell
BAR_WIDTH = 40


def table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    """Columns padded to their widest cell, under a header; the last column is not padded,
    so a long message does not push every line wide."""
    cells = [headers, *[["-" if c is None else " ".join(str(c).split()) for c in row]
                        for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  ".join([*(c.ljust(w) for c, w in zip(row, widths[:-1], strict=False)), row[-1]])
            for row in cells]


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (BLOCKS[part] if part else "")


def number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "null" if value is None else str(value)


def histogram_chart(counts: list[int], edges: list[float]) -> list[str]:
    """One row per bin: its range, its count and a bar scaled to the largest count."""
    peak = max(counts, default=0) or 1
    ranges = [f"[{number(lo)}, {number(hi)})" for lo, hi in pairwise(edges)]
    if ranges:  # numpy's last bin holds its upper edge
        ranges[-1] = ranges[-1][:-1] + "]"
    width = max((len(r) for r in ranges), default=0)
    digits = max((len(f"{c:,}") for c in counts), default=0)
    return [f"{r.ljust(width)}  {c:>{digits},}  {bar(c / peak)}"
            for r, c in zip(ranges, counts, strict=False)]


def result_lines(result: Any) -> list[str]:
    if isinstance(result, dict) and isinstance(result.get("counts"), list) \
            and isinstance(result.get("edges"), list):
        total = sum(result["counts"])
        return [f"histogram of {total:,} values in {len(result['counts'])} bins",
                *histogram_chart(result["counts"], result["edges"])]
    if isinstance(result, dict) and set(result) == {"dataset"}:
        name = result["dataset"]
        return [f"dataset {name} (femto dataset get {name} -o FILE.npy)"]
    if isinstance(result, dict) and set(result) == {"value"}:
        value = result["value"]  # in full: the one number a query is run for
        return [repr(value) if isinstance(value, float) else number(value)]
    return [json.dumps(result)]


def when(iso: str | None) -> str | None:
    """An API timestamp to the second, as `2026-12-02 06:12:01`."""
    return None if iso is None else iso.replace("T", " ")[:19]


def clock(iso: str | None) -> str | None:
    """An API timestamp's time of day, to a tenth of a second."""
    return None if iso is None else iso[11:21]


def duration(start: str | None, end: str | None) -> str | None:
    if start is None or end is None:
        return None
    return seconds(parse(end) - parse(start))


def parse(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def counts(tasks: dict[str, int]) -> str:
    order = ("pending", "running", "finished", "failed", "killed")
    return ", ".join(f"{tasks[k]} {k}" for k in order if k in tasks)


def spec_line(spec: dict[str, Any]) -> str:
    params = " ".join(f"{k}={json.dumps(v)}" for k, v in (spec.get("params") or {}).items()
                      if v is not None)  # a default left unset says nothing
    resources = spec.get("resources") or {}
    parts = [f"inputs {', '.join(spec.get('inputs') or []) or '-'}"]
    if spec.get("output"):
        parts.append(f"output {spec['output']}")
    if params:
        parts.append(params)
    if resources:
        parts.append(f"{resources.get('cpus')} cpus, {resources.get('mem')} MB a task")
    return "; ".join(parts)


def job_lines(job: dict[str, Any]) -> list[str]:
    """A job as `femto status` shows it, its result drawn when it has one."""
    rows = [
        ("job", f"{job['id']}  {job['name']}  {job['operation']}"),
        ("state", job["state"] + (f": {job['error']}" if job.get("error") else "")),
        ("tasks", f"{job['tasks']['total']}: {counts(job['tasks'])}; "
                  f"{job.get('attempts', 0)} attempts"),
    ]
    if job.get("spec"):
        rows.append(("spec", spec_line(job["spec"])))
    if job.get("waiting"):
        rows.append(("waiting", str(job["waiting"])))
    took = duration(job.get("started"), job.get("finished"))
    rows.append(("created", f"{when(job.get('created'))}"
                 + (f", took {took}" if took else "")))
    if job.get("owner"):
        rows.append(("owner", job["owner"]))
    lines = [f"{key:<8} {value}" for key, value in rows]
    if job.get("result") is not None:
        result = result_lines(job["result"])
        if len(result) == 1:
            lines.append(f"{'result':<8} {result[0]}")
        else:
            lines += [f"{'result':<8} {result[0]}", *("  " + line for line in result[1:])]
    return lines


def jobs_table(jobs: list[dict[str, Any]]) -> list[str]:
    return table(["ID", "STATE", "TASKS", "OPERATION", "CREATED", "NAME"], [
        [j["id"], j["state"], f"{j['tasks']['finished']}/{j['tasks']['total']}",
         j["operation"], when(j.get("created")), j["name"]] for j in jobs])


def tasks_table(tasks: list[dict[str, Any]]) -> list[str]:
    """One row per attempt (a task not launched yet: one row without one); times in UTC."""
    rows: list[list[Any]] = []
    for task in tasks:
        if not task["attempts"]:
            rows.append([task["partition"], None, task["state"], None, None, None, None, None,
                         None])
        for attempt in task["attempts"]:
            rows.append([task["partition"], attempt["n"],
                         str(attempt["state"]).removeprefix("TASK_"), attempt["host"],
                         clock(attempt["launched"]), clock(attempt["running"]),
                         clock(attempt["ended"]), attempt["fault"], attempt["message"]])
    return table(["PARTITION", "ATTEMPT", "STATE", "HOST", "LAUNCHED", "RUNNING", "ENDED",
                  "FAULT", "MESSAGE"], rows)


def datasets_table(datasets: list[dict[str, Any]]) -> list[str]:
    return table(["NAME", "DTYPE", "SHAPE", "PARTITIONS"], [
        [d["name"], d["dtype"], "x".join(str(n) for n in d["shape"]) or "()", d["partitions"]]
        for d in datasets])


STEP_STATES = ["WAITING", "PENDING", "RUNNING", "FINISHED", "FAILED", "CANCELLED", "SKIPPED"]


def step_refs(step: dict[str, Any]) -> list[str]:
    """The steps whose outputs a workflow step reads (its "@step" inputs)."""
    return [i[1:] for i in step.get("inputs") or [] if isinstance(i, str) and i.startswith("@")]


def step_order(spec: dict[str, Any]) -> list[str]:
    """A workflow's steps, each after the steps it reads: by depth, then as written."""
    steps: dict[str, Any] = spec.get("steps") or {}
    depths: dict[str, int] = {}

    def depth(name: str) -> int:
        if name not in depths:
            depths[name] = 0  # a cycle (refused at submit) ends here rather than recursing
            depths[name] = 1 + max((depth(r) for r in step_refs(steps[name]) if r in steps),
                                   default=-1)
        return depths[name]

    return sorted(steps, key=lambda name: (depth(name), list(steps).index(name)))


def final_steps(spec: dict[str, Any]) -> list[str]:
    """The steps no other step reads: the workflow's results."""
    steps: dict[str, Any] = spec.get("steps") or {}
    read = {r for step in steps.values() for r in step_refs(step)}
    return [name for name in step_order(spec) if name not in read]


def steps_summary(steps: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{name} {step['state']}" for name, step in steps.items())


def workflow_lines(workflow: dict[str, Any]) -> list[str]:
    """A workflow as `femto workflow status` shows it: its state, then a row per step."""
    spec = workflow.get("spec") or {}
    steps = workflow["steps"]
    states = [step["state"] for step in steps.values()]
    took = duration(workflow.get("started"), workflow.get("finished"))
    rows = [
        ("workflow", f"{workflow['id']}  {workflow['name']}"),
        ("state", workflow["state"] + (f": {workflow['error']}" if workflow.get("error")
                                       else "")),
        ("steps", f"{len(steps)}: " + ", ".join(
            f"{states.count(s)} {s.lower()}"
            for s in sorted(set(states), key=lambda s: [*STEP_STATES, s].index(s)))),
        ("created", f"{when(workflow.get('created'))}" + (f", took {took}" if took else "")),
    ]
    if workflow.get("owner"):
        rows.append(("owner", workflow["owner"]))
    specs = spec.get("steps") or {}
    order = [n for n in step_order(spec) if n in steps] + [n for n in steps if n not in specs]
    grid = table(["STEP", "STATE", "JOB", "OPERATION", "OUTPUT", "INPUTS"], [
        [name, steps[name]["state"], steps[name]["job"],
         (specs.get(name) or {}).get("operation"), steps[name].get("output"),
         ", ".join((specs.get(name) or {}).get("inputs") or []) or None] for name in order])
    return [f"{key:<8} {value}" for key, value in rows] + ["  " + line for line in grid]


def workflows_table(workflows: list[dict[str, Any]]) -> list[str]:
    def finished(steps: dict[str, Any]) -> str:
        done = sum(step["state"] == "FINISHED" for step in steps.values())
        return f"{done}/{len(steps)}"

    return table(["ID", "STATE", "STEPS", "CREATED", "NAME"], [
        [w["id"], w["state"], finished(w["steps"]), when(w.get("created")), w["name"]]
        for w in workflows])
