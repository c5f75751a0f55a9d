"""How a followed job or workflow is shown: a live panel on a terminal (rich), else a line
per change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from femto.cli.flow import WorkflowProgress
from femto.cli.follow import JobProgress
from femto.cli.render import counts, parse, seconds, step_order

ROWS = 10  # tasks shown at once; the rest are counted


class Show(Protocol):
    def __call__(self, progress: Any, change: str | None) -> None: ...


@contextmanager
def quiet() -> Iterator[Show]:
    yield lambda progress, change: None


@contextmanager
def lines(out: IO[str]) -> Iterator[Show]:
    """A timestamped line per state change, for logs and pipes."""

    def show(progress: Any, change: str | None) -> None:
        if change is not None:
            print(f"{time.strftime('%H:%M:%S')} {change}", file=out, flush=True)

    yield show


@contextmanager
def live(out: IO[str], panel: Panel | WorkflowPanel | None = None) -> Iterator[Show]:
    """The panel (a job's by default), redrawn as events come and four times a second for
    the clock."""
    shown = panel or Panel()
    with Live(shown, console=Console(file=out), refresh_per_second=4, transient=True):
        def show(progress: Any, change: str | None) -> None:
            shown.progress = progress

        yield show


class Panel:
    """Counts, a bar, elapsed time and ETA, and the running tasks with their own bars."""

    def __init__(self) -> None:
        self.progress: JobProgress | None = None

    def __rich__(self) -> RenderableType:
        p = self.progress
        if p is None:
            return Text("reading the job...")
        now = time.time()
        job, tasks = p.job, p.counts
        eta = p.eta(now)
        head = Table.grid(padding=(0, 1))
        head.add_row(Text(f"{job['name']} {job['state']}", style="bold"),
                     ProgressBar(total=1.0, completed=p.fraction, width=30),
                     f"{p.fraction:4.0%}", f"elapsed {seconds(p.elapsed(now))}",
                     f"ETA {seconds(eta)}" if eta is not None else "")
        summary = Text("  ".join(f"{tasks.get(k, 0)} {k}" for k in
                                 ("pending", "running", "finished", "failed", "killed")))
        shown = [t for t in p.tasks.values() if t.state in ("LAUNCHING", "RUNNING")] + \
                [t for t in p.tasks.values() if t.state == "PENDING" and t.not_before]
        grid = Table(box=None, padding=(0, 1), show_edge=False)
        for column in ("task", "attempt", "host", "state", "progress", ""):
            grid.add_column(column, style="dim" if column == "" else None)
        for t in shown[:ROWS]:
            if t.not_before:
                note = f"retry after {t.not_before}"
            elif t.progress == 0 and t.running_since is not None:
                # A program that reports nothing: how long it has been at it, at least.
                note = f"running {seconds(now - t.running_since)}"
            else:
                note = f"{t.progress:.0%}"
            grid.add_row(str(t.partition), str(t.attempt or "-"), t.host or "-", t.state,
                         ProgressBar(total=1.0, completed=t.progress, width=20), note)
        parts: list[Any] = [head, summary]
        if shown:
            parts.append(grid)
        if len(shown) > ROWS:
            parts.append(Text(f"... and {len(shown) - ROWS} more", style="dim"))
        return Group(*parts)


class WorkflowPanel:
    """The workflow's state and elapsed time, then a row per step: its state, and for a
    submitted step its job's bar and task counts."""

    def __init__(self) -> None:
        self.progress: WorkflowProgress | None = None

    def __rich__(self) -> RenderableType:
        p = self.progress
        if p is None:
            return Text("reading the workflow...")
        workflow = p.workflow
        started = workflow.get("started")
        elapsed = time.time() - (parse(started) if started else p.watched_since)
        head = Text(f"{workflow['name']} {workflow['state']}  elapsed {seconds(elapsed)}",
                    style="bold")
        grid = Table(box=None, padding=(0, 1), show_edge=False)
        for column in ("step", "state", "progress", "", "tasks"):
            grid.add_column(column)
        steps = workflow["steps"]
        order = [n for n in step_order(workflow.get("spec") or {}) if n in steps]
        for name in order + [n for n in steps if n not in order]:
            state, job = steps[name]["state"], p.job(name)
            fraction = 1.0 if state == "FINISHED" else job.fraction if job else 0.0
            grid.add_row(name, state, ProgressBar(total=1.0, completed=fraction, width=20),
                         f"{fraction:.0%}", counts(job.counts) if job else "")
        parts: list[Any] = [head, grid]
        if workflow.get("error"):
            parts.append(Text(workflow["error"], style="red"))
        return Group(*parts)
