"""What every router needs of the scheduler it serves, as FastAPI dependencies.

`create_app` puts one `ApiContext` in `app.state.context`; routers ask for its parts
(the engine, the datasets, the leader check) by dependency rather than by closing over
them, so that each router is a plain module-level `APIRouter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from femto.api.metrics import Metrics
from femto.auth import Tokens
from femto.datasets import Datasets
from femto.engine import Engine
from femto.errors import Unavailable
from femto.eventlog import EventLog
from femto.triggers.shell import Triggers
from femto.workflows.shell import Workflows

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ServiceInfo(Protocol):
    """What the API needs of the scheduler process it serves."""

    url: str
    engine: Engine | None
    workflows: Workflows | None  # the current engine's
    datasets: Datasets | None
    events: EventLog
    triggers: Triggers | None  # the current engine's

    @property
    def health_problem(self) -> str | None: ...

    @property
    def mesos_connected(self) -> bool: ...

    @property
    def is_leader(self) -> bool: ...

    def leader_url(self) -> str | None: ...

    def scheduler_urls(self) -> list[str]:
        """Every scheduler's API URL, the leader's first when one leads."""
        ...

    def master_url(self) -> str | None: ...


@dataclass(frozen=True)
class ApiContext:
    service: ServiceInfo
    datasets: Datasets
    tokens: Tokens | None  # None: every client is admin (a loopback scheduler)
    attempt_key: bytes  # checks the executors' attempt credentials (framework.credentials)
    max_upload: int
    exposed: bool  # reachable beyond loopback: the command operation needs its role
    metrics: Metrics

    @property
    def engine(self) -> Engine:
        engine = self.service.engine
        assert engine is not None, "the service builds its engine before serving"
        return engine

    @property
    def workflows(self) -> Workflows:
        workflows = self.service.workflows
        assert workflows is not None, "the service builds them with its engine"
        return workflows


class Redirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


# Dependencies are async: a sync one costs every request a trip through the thread pool.
async def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(api_context)]


async def current_engine(context: Context) -> Engine:
    return context.engine


async def current_datasets(context: Context) -> Datasets:
    return context.datasets


async def current_workflows(context: Context) -> Workflows:
    return context.workflows


CurrentEngine = Annotated[Engine, Depends(current_engine)]
CurrentWorkflows = Annotated[Workflows, Depends(current_workflows)]
CurrentDatasets = Annotated[Datasets, Depends(current_datasets)]


async def leader_only(request: Request, context: Context) -> None:
    """A standby serves reads; writes go to the leader (307 keeps method and body)."""
    if request.method in WRITES:
        await to_leader(request, context)


async def to_leader(request: Request, context: Context) -> None:
    """Nothing on the leader; elsewhere a redirect to it, or 503 while none is elected."""
    service = context.service
    if service.is_leader:
        return
    leader = await run_in_threadpool(service.leader_url)  # may ask ZooKeeper
    if not leader or leader == service.url:
        raise Unavailable("no leader is elected right now; retry shortly")
    target = leader + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise Redirect(target)
