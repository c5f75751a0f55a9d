"""The response bodies of the public API, as pydantic models for the OpenAPI document.

The routes return the engine's plain views (validating every item of a 10,000-job page
would cost more than building it); these models describe those views, and the API tests
check that real responses validate against them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from femto.engine.waiting import Reason
from femto.lifecycle import JobState, TaskState
from femto.workflows.rules import StepState, WorkflowState


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


Timestamp = str  # ISO 8601 in UTC, milliseconds, "Z"


class ErrorBody(_View):
    """Every error femto answers, whatever its status."""

    error: str = Field(description="what is wrong, for people")
    details: list[dict[str, Any]] = Field(
        description='where: items with "loc" (a field, header or parameter) and "msg"')


class TaskCounts(_View):
    total: int
    pending: int = Field(description="waiting for an offer, or launching")
    running: int
    finished: int
    failed: int = Field(description="out of retries")
    killed: int = Field(description="ended because the job was cancelled or failed")


class JobObject(_View):
    id: str
    name: str
    state: JobState
    operation: str
    created: Timestamp
    started: Timestamp | None
    finished: Timestamp | None
    tasks: TaskCounts
    attempts: int = Field(description="attempts launched, over all partitions")
    result: Any = Field(None, description="a query's reduced result, or a transform's output "
                        "dataset; left out of GET /v1/jobs")
    error: str | None
    owner: str | None = Field(description="the name of the token that submitted it")
    waiting: str | None = Field(description="why its tasks fit no agent, if they do not")
    spec: dict[str, Any] = Field(description="the canonical job spec as submitted (JobSpec)")
    workflow: str | None = Field(description="the workflow this job is a step of, if any")
    step: str | None = Field(description="its step's name in that workflow")


class AttemptView(_View):
    n: int
    task_id: str = Field(description="the Mesos task id")
    agent_id: str
    host: str
    launched: Timestamp
    running: Timestamp | None
    ended: Timestamp | None
    state: str = Field(description="the last Mesos state seen (or TIMED_OUT)")
    message: str | None
    fault: str | None = Field(description='whose fault its failure was: "work" or "infra"')


class TaskView(_View):
    partition: int
    state: TaskState
    progress: float = Field(ge=0, le=1, description="as the executor last reported it")
    elapsed: float | None = Field(description="seconds the latest attempt has been at work")
    not_before: Timestamp | None = Field(description="in retry backoff until then")
    charged_failures: int
    infra_failures: int
    attempts: list[AttemptView]


class DatasetView(_View):
    name: str
    dtype: str
    shape: list[int]
    partitions: int
    closed: bool  # no more partitions may be appended (POST .../partitions)


class OutputMeta(_View):
    length: int
    dtype: str
    shape: list[int]


class QueueEntry(_View):
    job: str
    partition: int
    waiting_since: Timestamp
    reason: Reason
    message: str
    until: Timestamp | None = Field(description="the locality wait or backoff ends then")
    delay: float | None = Field(description="the backoff's length in seconds")


class DelayReset(_View):
    job: str
    reset: int = Field(description="tasks whose retry backoff was ended")


class Leader(_View):
    leader: str | None = Field(description="host:port of the leading scheduler")
    is_leader: bool


class LeaderHealth(_View):
    is_leader: bool


class Health(_View):
    status: str = Field(description='"ok" or "degraded"')
    problem: str | None
    is_leader: bool
    mesos_connected: bool


class TaskLogChunk(_View):
    job_id: str
    partition: int
    attempt: int
    task_id: str
    agent_id: str
    file: str
    state: str
    done: bool = Field(description="the attempt has ended: no more will be written")
    offset: int
    next_offset: int
    data: str


class SchedulerView(_View):
    url: str
    leader: bool


class MasterView(_View):
    url: str
    version: str | None


class Resources(_View):
    cpus: float
    mem: float = Field(description="MB")
    disk: float = Field(description="MB")


class ExecutorView(_View):
    id: str
    framework_id: str | None
    tasks: int = Field(description="its live tasks")


class AgentView(_View):
    id: str
    host: str
    active: bool
    resources: Resources
    used: Resources
    executors: list[ExecutorView]


class ClusterView(_View):
    schedulers: list[SchedulerView] = Field(description="the leader first, then standbys")
    framework_id: str | None
    master: MasterView | None
    agents: list[AgentView]
    error: str | None = Field(description="why the master's state could not be read")


class WorkflowStep(_View):
    state: StepState
    job: str | None = Field(description="the step job's id: uuid5(workflow id, step); null "
                            "before it is submitted")
    output: str | None = Field(description="the dataset the step writes; null for a query")


class WorkflowObject(_View):
    id: str
    name: str
    state: WorkflowState
    owner: str | None = Field(description="the name of the token that submitted it")
    spec: dict[str, Any] = Field(description="the canonical workflow spec as submitted")
    steps: dict[str, WorkflowStep]
    created: Timestamp
    started: Timestamp | None
    finished: Timestamp | None
    error: str | None = Field(description='why it failed: "step <s> failed: <job error>"')
