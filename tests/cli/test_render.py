"""Human output, pure: tables, the histogram chart, and a followed job's counts and ETA."""

from __future__ import annotations

import time

from rich.console import Console

from femto.cli.display import Panel
from femto.cli.follow import JobProgress, TaskProgress
from femto.cli.render import bar, histogram_chart, job_lines, parse, result_lines, table
from femto.events import JobEvent, ProgressEvent, TaskEvent


def test_a_table_pads_every_column_but_the_last() -> None:
    assert table(["A", "LONGER", "NOTE"], [["xyz", 1, "a b\nc"], [None, 22, ""]]) == [
        "A    LONGER  NOTE",
        "xyz  1       a b c",
        "-    22      ",
    ]


def test_bars_are_drawn_in_eighths_of_a_cell() -> None:
    assert bar(1.0, 4) == "████" and bar(0.0, 4) == ""
    assert bar(0.5 + 1 / 32, 4) == "██▏"  # 2.125 cells of 4: two and an eighth
    assert bar(7.0, 2) == "██"  # never beyond its width


def test_the_histogram_chart_scales_to_the_largest_bin() -> None:
    chart = histogram_chart([5, 10, 0], [0.0, 0.5, 1.0, 1.5])
    assert chart == [
        "[0, 0.5)   5  " + "█" * 20,
        "[0.5, 1)  10  " + "█" * 40,
        "[1, 1.5]   0  ",  # numpy's last bin holds its upper edge
    ]
    assert result_lines({"counts": [5, 10, 0], "edges": [0.0, 0.5, 1.0, 1.5]})[0] == \
        "histogram of 15 values in 3 bins"
    assert result_lines({"value": 0.1 + 0.2}) == ["0.30000000000000004"]
    assert result_lines({"value": 1234567}) == ["1,234,567"]


def job(state: str = "RUNNING", total: int = 4) -> JobProgress:
    progress = JobProgress({"id": "j", "name": "n", "state": state, "error": None,
                            "started": "2026-12-02T06:00:00.000Z",
                            "tasks": {"total": total, "pending": total, "running": 0,
                                      "finished": 0, "failed": 0, "killed": 0}})
    progress.tasks = {p: TaskProgress(p, "PENDING") for p in range(total)}
    return progress


def task(partition: int, state: str, attempt: int = 1, **extra: object) -> TaskEvent:
    return TaskEvent(job="j", partition=partition, state=state, attempt=attempt,
                     host="agent-1", **extra)  # type: ignore[arg-type]


def test_counts_follow_the_tasks_and_the_eta_their_pace() -> None:
    p = job()
    assert p.apply(task(0, "RUNNING")) == "task 0 RUNNING (attempt 1 on agent-1)"
    assert p.apply(task(0, "RUNNING")) is None  # no change of state: no line
    p.apply(ProgressEvent(job="j", partition=0, attempt=1, progress=0.5))
    p.apply(task(1, "FINISHED"))
    assert p.counts == {"total": 4, "pending": 2, "running": 1, "finished": 1, "failed": 0,
                        "killed": 0}
    assert p.fraction == 1.5 / 4
    started = parse(p.job["started"])
    assert p.eta(started + 30) == 50.0  # 30 s for 1.5 of 4: 2.5 more take 50 s


def test_a_retry_starts_its_progress_again_and_says_why() -> None:
    p = job()
    p.apply(task(2, "RUNNING"))
    p.apply(ProgressEvent(job="j", partition=2, attempt=1, progress=0.9))
    line = p.apply(task(2, "PENDING", fault="infra", message="agent lost",
                        not_before="2026-12-02T06:00:05Z"))
    assert line == ("task 2 PENDING (attempt 1 on agent-1), infra fault: agent lost; "
                    "retry after 2026-12-02T06:00:05Z")
    p.apply(task(2, "RUNNING", attempt=2))
    assert p.tasks[2].progress == 0.0
    p.apply(ProgressEvent(job="j", partition=2, attempt=1, progress=0.95))  # a stale report
    assert p.tasks[2].progress == 0.0


def test_the_job_line_comes_with_a_change_of_state_only() -> None:
    p = job()
    counts = {"total": 4, "pending": 0, "running": 0, "finished": 4, "failed": 0, "killed": 0}
    event = JobEvent(job="j", state="RUNNING", tasks=counts, attempts=4)
    assert p.apply(event) is None
    p.tasks = {k: TaskProgress(k, "FINISHED", 1) for k in range(4)}
    done = JobEvent(job="j", state="FINISHED", tasks=counts, attempts=4)
    assert p.apply(done) == "job FINISHED: 0 pending, 0 running, 4 finished, 0 failed, 0 killed"
    assert p.done and p.eta(0.0) is None


def test_a_job_shows_its_spec_error_and_wait() -> None:
    lines = job_lines({
        "id": "j1", "name": "pt", "operation": "histogram", "state": "FAILED",
        "error": "partition 2 failed 4 times", "attempts": 9, "owner": "ana",
        "tasks": {"total": 4, "pending": 0, "running": 0, "finished": 3, "failed": 1,
                  "killed": 0},
        "spec": {"name": "pt", "operation": "histogram", "inputs": ["events"],
                 "params": {"bins": 50, "range": [0, 100]}, "output": None,
                 "resources": {"cpus": 0.25, "mem": 64}},
        "waiting": None, "created": "2026-12-02T06:00:00.000Z",
        "started": "2026-12-02T06:00:01.000Z", "finished": "2026-12-02T06:01:31.500Z",
        "result": None,
    })
    assert lines == [
        "job      j1  pt  histogram",
        "state    FAILED: partition 2 failed 4 times",
        "tasks    4: 0 pending, 0 running, 3 finished, 1 failed, 0 killed; 9 attempts",
        'spec     inputs events; bins=50 range=[0, 100]; 0.25 cpus, 64 MB a task',
        "created  2026-12-02 06:00:00, took 1:30",
        "owner    ana",
    ]


def test_the_live_panel_shows_how_long_a_silent_task_has_run() -> None:
    progress = JobProgress({"id": "j", "name": "quiet", "state": "RUNNING", "attempts": 2,
                            "started": None, "error": None,
                            "tasks": {"total": 2, "pending": 0, "running": 2, "finished": 0,
                                      "failed": 0, "killed": 0}})
    for partition in (0, 1):
        progress.apply(TaskEvent(job="j", partition=partition, state="RUNNING", attempt=1,
                                 host="agent-1"))
    progress.tasks[0].running_since = time.time() - 75  # as if it started then
    progress.apply(ProgressEvent(job="j", partition=1, attempt=1, progress=0.5))
    panel = Panel()
    panel.progress = progress
    console = Console(record=True, width=120)
    console.print(panel)
    text = console.export_text()
    assert "running 1:15" in text, text
    assert "50%" in text
