"""/metrics with prometheus_client: one registry per API (several schedulers in one
process, as in the tests, must not share or clash), the process and Python collectors, the
engine's state read at each scrape, and the API's latency by route template."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from femto.engine.stats import Durations
from femto.lifecycle import JobState, TaskState

if TYPE_CHECKING:
    from femto.api.context import ServiceInfo

CONTENT_TYPE = CONTENT_TYPE_LATEST

COUNTERS = {  # the core's counters (framework.engine.core), as femto_<name>_total
    "tasks_launched": "Task attempts launched.",
    "tasks_finished": "Tasks finished (a partition counts once).",
    "tasks_failed_attempts": "Task attempts that failed, were lost or were killed.",
    "offers_received": "Resource offers received from Mesos.",
    "offers_declined": "Resource offers declined.",
    "offers_used": "Resource offers that tasks were launched into.",
}
API_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """A scheduler's metrics: `registry` is what GET /metrics renders."""

    def __init__(self, service: ServiceInfo) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.registry.register(EngineCollector(service))
        self.api_latency = Histogram(
            "femto_api_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status.",
            ["method", "route", "status"], buckets=API_BUCKETS, registry=self.registry)


def render(metrics: Metrics) -> bytes:
    return generate_latest(metrics.registry)


class EngineCollector(Collector):
    """Read at each scrape: jobs and tasks by state (from the store, so a standby shows the
    cluster's too), and the current engine's counters and durations (a new leader's
    start from zero: Prometheus takes that as a counter reset)."""

    def __init__(self, service: ServiceInfo) -> None:
        self.service = service

    def collect(self) -> Iterable[Metric]:
        service = self.service
        engine = service.engine
        yield _gauge("femto_mesos_connected", "1 while subscribed to a Mesos master.",
                     int(service.mesos_connected))
        yield _gauge("femto_is_leader", "1 while this scheduler leads.", int(service.is_leader))
        if engine is None:
            return
        jobs = GaugeMetricFamily("femto_jobs", "Jobs by state.", labels=["state"])
        for job_state in JobState:
            jobs.add_metric([job_state.value], engine.store.count("jobs", state=job_state.value))
        yield jobs
        tasks = GaugeMetricFamily("femto_tasks", "Tasks by state.", labels=["state"])
        for task_state in TaskState:
            tasks.add_metric([task_state.value],
                             engine.store.count("tasks", state=task_state.value))
        yield tasks
        with engine.lock:
            core = engine.core
            active, pending = len(core.active), len(core.pending)
            running = sum(a.job.counts.get(TaskState.RUNNING, 0) for a in core.active.values())
            counters = dict(core.counters)
            run, wait = _copy(core.task_run), _copy(core.queue_wait)
        yield _gauge("femto_active_jobs", "Jobs this scheduler has in memory (unfinished, "
                     "or just ended).", active)
        yield _gauge("femto_pending_tasks", "Tasks waiting for an offer.", pending)
        yield _gauge("femto_running_tasks", "Tasks running on agents.", running)
        for name, text in COUNTERS.items():
            yield CounterMetricFamily(f"femto_{name}", text, value=counters.get(name, 0))
        yield _histogram("femto_task_run_seconds", "Run time of task attempts, from "
                         "TASK_RUNNING to their end.", run)
        yield _histogram("femto_task_queue_wait_seconds", "Wait of tasks from submission "
                         "(or a retry's backoff) to TASK_RUNNING.", wait)


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=value)


def _copy(durations: Durations) -> tuple[list[tuple[float, int]], float]:
    return durations.cumulative(), durations.total


def _histogram(name: str, text: str, data: tuple[list[tuple[float, int]], float]
               ) -> HistogramMetricFamily:
    buckets, total = data
    return HistogramMetricFamily(
        name, text, buckets=[("+Inf" if b == float("inf") else repr(b), n) for b, n in buckets],
        sum_value=total)


class LatencyMiddleware:
    """Times each HTTP request into `api_latency`, labelled by the route's template
    (/v1/jobs/{job_id}, never the raw path: one series per route, not per job), from its
    arrival to the start of its answer."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes  # the app's own (its routers' routes come in the scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False
        arrived = dict(scope)  # a mount rewrites the scope's paths as it routes

        def observe(status: int) -> None:
            self.metrics.api_latency.labels(
                scope["method"], _template(scope, arrived, self.routes), str(status)
            ).observe(time.perf_counter() - started)

        async def sending(message: Message) -> None:
            nonlocal answered
            # Until the answer starts: an event stream's body lasts as long as its client
            # follows, which says nothing of how fast femto answered.
            if message["type"] == "http.response.start" and not answered:
                answered = True
                observe(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if not answered:
                observe(500)


def _template(scope: Scope, arrived: Scope, routes: list[BaseRoute]) -> str:
    """The matched route's template, with the prefixes of the routers it sits in: the route
    knows only its own part of the path (FastAPI keeps it as its router declared it), and
    each parameter is one segment, so the prefix is the raw path less that many."""
    route = scope.get("route")
    if route is None:  # a route of the app itself (/openapi.json, a mount): not recorded
        for own_route in routes:
            if isinstance(own_route, Route | Mount) \
                    and own_route.matches(arrived)[0] is Match.FULL:
                return str(own_route.path_format)
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return "unmatched"
    own = template.count("/")
    segments = arrived["path"].split("/")
    prefix = "/".join(segments[:-own]) if 0 < own < len(segments) else ""
    return prefix + template
