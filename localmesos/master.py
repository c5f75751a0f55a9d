"""The master: frameworks, offers, tasks, reliable status updates and the scheduler API."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localmesos.agent import Agent
from localmesos.allocator import Candidate, Filter, allocate
from localmesos.background import Background
from localmesos.lifecycles import (
    FRAMEWORK_TRANSITIONS,
    AgentState,
    FrameworkState,
    TransitionError,
    check_transition,
    task_may_become,
)
from localmesos.links import Acknowledgement, AgentLink
from localmesos.protocol import CallRejected, now
from localmesos.resources import ResourceError, Resources
from localmesos.streams import EventStream
from localmesos.validation import framework_info_error, id_error
from mesosapi.taskstates import TERMINAL, TaskState, task_state

log = logging.getLogger(__name__)

DEFAULT_REFUSE_SECONDS = 5.0
# Resources freed by ending tasks are offered at most this often (at once after a quiet
# spell, else together), like the real master's batch allocation: offering each task's
# share on its own flooded the framework with small offers (hundreds outstanding at 500
# tasks/s), each its own ACCEPT.
RELEASE_BATCH_SECONDS = 0.02
VERSION = "1.11.0"
# The master flags --max_completed_tasks_per_framework and --max_completed_frameworks
# (src/master/constants.hpp): how many finished tasks and frameworks it keeps in memory.
DEFAULT_MAX_COMPLETED_TASKS_PER_FRAMEWORK = 1000
DEFAULT_MAX_COMPLETED_FRAMEWORKS = 50

@dataclass(eq=False)
class Task:
    info: dict[str, Any]
    framework_id: str
    agent_id: str
    executor_id: str | None
    resources: Resources
    state: TaskState = TaskState.STAGING
    statuses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.info["task_id"]["value"])


@dataclass(eq=False)
class PendingUpdate:
    """A status update re-sent with backoff until the scheduler acknowledges its uuid."""

    status: dict[str, Any]
    from_executor: bool
    interval: float
    next_send: float = 0.0


@dataclass(eq=False)
class Offer:
    id: str
    framework_id: str
    agent_id: str
    resources: Resources


@dataclass(eq=False)
class Framework:
    id: str
    info: dict[str, Any]
    state: FrameworkState = FrameworkState.CONNECTED
    stream: EventStream | None = None
    suppressed: bool = False
    filters: dict[str, Filter] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)  # live, or terminal and unacknowledged
    unreachable_tasks: dict[str, Task] = field(default_factory=dict)  # on unreachable agents
    # A circular buffer, as the master's: the oldest completed task goes first.
    completed_tasks: deque[Task] = field(
        default_factory=lambda: deque(maxlen=DEFAULT_MAX_COMPLETED_TASKS_PER_FRAMEWORK)
    )
    pending: dict[str, deque[PendingUpdate]] = field(default_factory=dict)
    failover_timer: asyncio.TimerHandle | None = None
    registered_time: float = field(default_factory=now)
    reregistered_time: float | None = None
    unregistered_time: float | None = None

    @property
    def role(self) -> str:
        roles = self.info.get("roles") or []
        return str(roles[0]) if roles else str(self.info.get("role", "*"))

    @property
    def partition_aware(self) -> bool:
        return any(c.get("type") == "PARTITION_AWARE" for c in self.info.get("capabilities", []))

    @property
    def checkpoint(self) -> bool:
        return bool(self.info.get("checkpoint", False))

    def transition(self, new: FrameworkState) -> None:
        check_transition(FRAMEWORK_TRANSITIONS, self.state, new)
        self.state = new

    def send(self, event: dict[str, Any]) -> None:
        if self.stream is not None:
            self.stream.send(event)

    def complete_task(self, task: Task) -> None:
        self.tasks.pop(task.id, None)
        self.pending.pop(task.id, None)
        self.completed_tasks.append(task)


class Master:
    def __init__(
        self,
        *,
        heartbeat_interval: float,
        update_retry: float = 2.0,
        update_retry_max: float = 10.0,
        agent_ping_timeout: float = 15.0,
        max_agent_ping_timeouts: int = 5,
        allocation_interval: float | None = None,
        max_completed_tasks_per_framework: int = DEFAULT_MAX_COMPLETED_TASKS_PER_FRAMEWORK,
        max_completed_frameworks: int = DEFAULT_MAX_COMPLETED_FRAMEWORKS,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.max_completed_tasks_per_framework = max_completed_tasks_per_framework
        self.heartbeat_interval = heartbeat_interval
        self.agent_ping_timeout = agent_ping_timeout
        self.max_agent_ping_timeouts = max_agent_ping_timeouts
        # None: allocate as soon as anything changes (the embedded default). A number: the
        # real allocator's batch interval; freed resources wait for the next batch.
        self.allocation_interval = allocation_interval
        self.links: dict[str, AgentLink] = {}
        self.update_retry = update_retry
        self.update_retry_max = update_retry_max
        self.port = 0
        self.start_time = now()
        self.agents: dict[str, Agent] = {}
        self.removed_agents: set[str] = set()
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: deque[Framework] = deque(maxlen=max_completed_frameworks)
        self.offers: dict[str, Offer] = {}
        self.stopping = False
        self._counter = 0
        self._allocation: asyncio.TimerHandle | asyncio.Handle | None = None
        self._last_allocation = float("-inf")  # event loop time
        self._batch: asyncio.TimerHandle | None = None
        self._background = Background("master")

    def next_id(self, kind: str) -> str:
        self._counter += 1
        return f"{self.id}-{kind}{self._counter:04d}"

    def master_info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ip": 16777343,  # 127.0.0.1 as the uint32 (network byte order) MasterInfo carries
            "port": self.port,
            "hostname": "127.0.0.1",
            "version": VERSION,
            "address": {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": self.port},
        }

    # ------------------------------------------------------------------ subscription

    def subscribe(self, call: dict[str, Any]) -> tuple[EventStream, str | None]:
        """The new event stream and its framework id (None: the stream only carries an ERROR)."""
        info = call["subscribe"]["framework_info"]  # converted and validated
        framework_id = info.get("id", {}).get("value")
        stream = EventStream(self.heartbeat_interval)
        framework = self.frameworks.get(framework_id) if framework_id else None
        # src/master/master.cpp `Master::subscribe`: a refused subscription is a 200 whose
        # stream carries one ERROR event.
        error = framework_info_error(info, framework.info if framework else None)
        if error is None and any(f.id == framework_id for f in self.completed_frameworks):
            error = "Framework has been removed"
        if error is not None:
            stream.send({"type": "ERROR", "error": {"message": error}})
            stream.close()
            return stream, None
        if framework is None:
            # An unknown id is a framework failing over to a new master: accepted, as Mesos does.
            framework_id = framework_id or self.next_id("")
            info = {**info, "id": {"value": framework_id}}
            framework = Framework(
                framework_id,
                info,
                completed_tasks=deque(maxlen=self.max_completed_tasks_per_framework),
            )
            self.frameworks[framework_id] = framework
        else:
            if framework.stream is not None:
                framework.stream.send(
                    {"type": "ERROR", "error": {"message": "Framework failed over"}}
                )
                framework.stream.close()
            if framework.failover_timer is not None:
                framework.failover_timer.cancel()
                framework.failover_timer = None
            if framework.state is FrameworkState.DISCONNECTED:
                framework.transition(FrameworkState.CONNECTED)
            framework.info = {**info, "id": {"value": framework.id}}
            framework.reregistered_time = now()
            self._drop_offers(framework)
        framework.stream = stream
        framework.suppressed = False
        stream.send(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": {"value": framework.id},
                    "heartbeat_interval_seconds": self.heartbeat_interval,
                    "master_info": self.master_info(),
                },
            }
        )
        for queue in framework.pending.values():
            queue[0].interval = self.update_retry
            self._send_pending(framework, queue[0])
        self.schedule_allocation()
        log.debug("framework %s subscribed", framework.id)
        return stream, framework.id

    def stream_closed(self, framework_id: str, stream: EventStream) -> None:
        framework = self.frameworks.get(framework_id)
        if framework is None or framework.stream is not stream or self.stopping:
            return
        framework.stream = None
        framework.transition(FrameworkState.DISCONNECTED)
        framework.unregistered_time = now()
        self._drop_offers(framework)
        timeout = float(framework.info.get("failover_timeout", 0.0))
        log.debug("framework %s disconnected; failover timeout %.1fs", framework_id, timeout)
        framework.failover_timer = asyncio.get_running_loop().call_later(
            timeout, self._teardown, framework
        )

    # ------------------------------------------------------------------ calls

    def call(self, call: dict[str, Any], stream_id: str | None) -> None:
        """Handles a validated call other than SUBSCRIBE; raises CallRejected with the
        status and text of src/master/http.cpp `Master::Http::scheduler`."""
        framework_id = call["framework_id"]["value"]
        framework = self.frameworks.get(framework_id)
        if framework is None:  # never known, or removed (torn down, failover timeout)
            raise CallRejected(400, "Framework cannot be found")
        if framework.state is not FrameworkState.CONNECTED:
            raise CallRejected(403, "Framework is not subscribed")
        if stream_id is None:
            raise CallRejected(
                400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
            )
        assert framework.stream is not None  # CONNECTED always has a stream
        if stream_id != framework.stream.id:
            raise CallRejected(
                400,
                f"The stream ID '{stream_id}' included in this request didn't match the stream"
                f" ID currently associated with framework ID {framework_id}",
            )
        handlers: dict[str, Callable[[Framework, dict[str, Any]], None]] = {
            "TEARDOWN": lambda f, c: self._teardown(f),
            "ACCEPT": lambda f, c: self._accept(f, c["accept"]),
            "DECLINE": lambda f, c: self._decline(f, c["decline"]),
            "REVIVE": lambda f, c: self._revive(f),
            "SUPPRESS": lambda f, c: self._suppress(f),
            "KILL": lambda f, c: self._kill(f, c["kill"]),
            "SHUTDOWN": lambda f, c: self._shutdown(f, c["shutdown"]),
            "ACKNOWLEDGE": lambda f, c: self._acknowledge(f, c["acknowledge"]),
            "RECONCILE": lambda f, c: self._reconcile(f, c["reconcile"]),
            "MESSAGE": lambda f, c: self._message(f, c["message"]),
            "REQUEST": lambda f, c: None,  # advisory; Mesos' own allocator ignores it too
            # There are no inverse offers here, so every id is unknown: Mesos ignores those.
            "ACCEPT_INVERSE_OFFERS": lambda f, c: None,
            "DECLINE_INVERSE_OFFERS": lambda f, c: None,
        }
        if call["type"] == "UNKNOWN":
            raise CallRejected(501, "501 Not Implemented.")
        handler = handlers.get(call["type"])
        if handler is None:
            raise CallRejected(400, f"Call type {call['type']} is not supported by localmesos")
        handler(framework, call)

    def _teardown(self, framework: Framework) -> None:
        if framework.state is FrameworkState.COMPLETED:
            return
        log.debug("tearing down framework %s", framework.id)
        framework.transition(FrameworkState.COMPLETED)
        if framework.failover_timer is not None:
            framework.failover_timer.cancel()
        self._drop_offers(framework)
        for task in list(framework.tasks.values()):
            if task.state not in TERMINAL:
                task.state = TaskState.KILLED
            framework.complete_task(task)
        del self.frameworks[framework.id]
        self.completed_frameworks.append(framework)
        framework.unregistered_time = now()
        if framework.stream is not None:
            framework.stream.close()
            framework.stream = None
        for agent in self.agents.values():
            # Agents out of reach shut the framework down when they re-register.
            if self.links[agent.id].reachable:
                self._background.run(agent.shutdown_framework(framework.id))

    def _revive(self, framework: Framework) -> None:
        framework.filters.clear()
        framework.suppressed = False
        self.schedule_allocation()

    def _suppress(self, framework: Framework) -> None:
        framework.suppressed = True

    def _decline(self, framework: Framework, body: dict[str, Any]) -> None:
        """src/master/master.cpp `Master::decline`: unlike ACCEPT, each offer is taken on its
        own (offers of several agents in one call are fine), an unknown one is ignored, and
        each agent's declined resources are filtered for `refuse_seconds`."""
        refuse = float((body.get("filters") or {}).get("refuse_seconds", DEFAULT_REFUSE_SECONDS))
        declined: dict[str, Resources] = defaultdict(Resources)
        for offer_id in dict.fromkeys(o["value"] for o in body.get("offer_ids", [])):
            offer = self.offers.get(offer_id)
            if offer is None or offer.framework_id != framework.id:
                continue
            del self.offers[offer_id]
            declined[offer.agent_id] = declined[offer.agent_id] + offer.resources
        if refuse > 0:
            for agent_id, pool in declined.items():
                framework.filters[agent_id] = Filter(pool, now() + refuse)
        self.schedule_allocation(recovered=True)

    def _accept(self, framework: Framework, body: dict[str, Any]) -> None:
        offer_ids = [o["value"] for o in body.get("offer_ids", [])]
        launches = [_parse_operation(op) for op in body.get("operations", [])]
        error = self._offers_error(framework, offer_ids)
        valid = [
            self.offers.pop(oid)
            for oid in dict.fromkeys(offer_ids)
            if oid in self.offers and self.offers[oid].framework_id == framework.id
        ]
        if error is not None:
            # src/master/master.cpp `Master::accept`: the tasks are dropped, the offers gone.
            state = TaskState.DROPPED if framework.partition_aware else TaskState.LOST
            message = f"Task launched with invalid offers: {error}"
            for tasks, _ in launches:
                for task in tasks:
                    self._master_update(framework, task, state, "REASON_INVALID_OFFERS", message)
            self.schedule_allocation(recovered=True)
            return
        agent = self.agents[valid[0].agent_id]
        pool = Resources()
        for offer in valid:
            pool = pool + offer.resources
        for tasks, executor in launches:
            pool = self._launch(framework, agent, pool, tasks, executor, group=executor is not None)
        refuse = float((body.get("filters") or {}).get("refuse_seconds", DEFAULT_REFUSE_SECONDS))
        if refuse > 0 and not pool.is_empty():
            framework.filters[agent.id] = Filter(pool, now() + refuse)
        self.schedule_allocation(recovered=True)

    def _offers_error(self, framework: Framework, offer_ids: list[str]) -> str | None:
        """src/master/validation.cpp `offer::validate` (and "No offers specified")."""
        if not offer_ids:
            return "No offers specified"
        duplicate = next((o for i, o in enumerate(offer_ids) if o in offer_ids[:i]), None)
        if duplicate is not None:
            return f"Duplicate offer {duplicate} in offer list"
        for offer_id in offer_ids:
            if offer_id not in self.offers:
                return f"Offer {offer_id} is no longer valid"
        for offer_id in offer_ids:
            owner = self.offers[offer_id].framework_id
            if owner != framework.id:
                return (
                    f"Offer {offer_id} has invalid framework {owner}"
                    f" while framework {framework.id} is expected"
                )
        first = self.offers[offer_ids[0]].agent_id
        for offer_id in offer_ids:
            agent_id = self.offers[offer_id].agent_id
            if agent_id != first:
                return (
                    "Aggregated offers must belong to one single agent. Offer"
                    f" {offer_id} uses agent {agent_id} and agent {first}"
                )
        return None

    def _launch(
        self,
        framework: Framework,
        agent: Agent,
        pool: Resources,
        tasks: list[dict[str, Any]],
        group_executor: dict[str, Any] | None,
        *,
        group: bool,
    ) -> Resources:
        """Validates and starts one LAUNCH (each task on its own) or LAUNCH_GROUP (all or
        none); returns what is left of the offered resources."""
        batch: list[tuple[dict[str, Any], Resources, dict[str, Any] | None, Resources]] = []
        errors: list[tuple[dict[str, Any], str]] = []
        remaining = pool
        for task in tasks:
            executor = group_executor if group else task.get("executor")
            try:
                task_resources, executor_resources = self._validate_task(
                    framework, agent, task, executor, group=group
                )
            except ValueError as exc:
                errors.append((task, str(exc)))
                continue
            if executor is not None and any(
                e is not None and e["executor_id"] == executor["executor_id"]
                for _, _, e, _ in batch
            ):
                executor_resources = Resources()
            needed = task_resources + executor_resources
            if not remaining.contains(needed):
                errors.append(
                    (
                        task,
                        f"Total resources {needed} required by task and its executor"
                        f" is more than available {remaining}",
                    )
                )
                continue
            remaining = remaining - needed
            batch.append((task, task_resources, executor, executor_resources))
        if group and errors:
            message = "; ".join(m for _, m in errors)
            for task in tasks:
                self._master_update(
                    framework, task, TaskState.ERROR, "REASON_TASK_INVALID", message
                )
            return pool
        for task, message in errors:
            self._master_update(framework, task, TaskState.ERROR, "REASON_TASK_INVALID", message)
        for task, task_resources, executor, _ in batch:
            executor_id = executor["executor_id"]["value"] if executor else None
            framework.tasks[task["task_id"]["value"]] = Task(
                task, framework.id, agent.id, executor_id, task_resources
            )
        if group and batch:
            executor = batch[0][2]
            agent.launch(
                framework.info,
                [b[0] for b in batch],
                executor,
                sum((b[3] for b in batch), Resources()),
                group=True,
            )
        else:
            for task, _, executor, executor_resources in batch:
                agent.launch(framework.info, [task], executor, executor_resources, group=False)
        return remaining

    def _validate_task(
        self,
        framework: Framework,
        agent: Agent,
        task: dict[str, Any],
        executor: dict[str, Any] | None,
        *,
        group: bool,
    ) -> tuple[Resources, Resources]:
        """The task's and (if it starts a new executor) the executor's resources, or a
        ValueError whose text becomes the TASK_ERROR message."""
        # The checks and texts of src/master/validation.cpp `task::internal::validateTask`.
        task_id = task["task_id"]["value"]
        id_problem = id_error(task_id)
        if id_problem is not None:
            raise ValueError(id_problem)
        if task_id in framework.tasks:
            raise ValueError(f"Task has duplicate ID: {task_id}")
        if task["agent_id"]["value"] != agent.id:
            raise ValueError(
                f"Task uses invalid agent {task['agent_id']['value']}"
                f" while agent {agent.id} is expected"
            )
        if group and task.get("executor"):
            raise ValueError("Tasks of a task group must not have an ExecutorInfo")
        if not group and (task.get("command") is None) == (executor is None):
            raise ValueError(
                "Task should have at least one (but not both) of CommandInfo or ExecutorInfo"
                " present"
            )
        try:
            task_resources = Resources.parse(task.get("resources"))
        except ResourceError as exc:
            raise ValueError(f"Task uses invalid resources: {exc}") from None
        if task_resources.is_empty():
            raise ValueError("Task uses no resources")
        if executor is None:
            return task_resources, Resources()
        id_problem = id_error(executor["executor_id"]["value"])
        if id_problem is not None:
            raise ValueError(id_problem)
        if executor.get("type") == "DEFAULT":
            raise ValueError("localmesos runs custom executors only, not the DEFAULT executor")
        if "command" not in executor:
            raise ValueError("'ExecutorInfo.command' must be set")
        if agent.has_executor(framework.id, executor["executor_id"]["value"]):
            return task_resources, Resources()
        try:
            return task_resources, Resources.parse(executor.get("resources"))
        except ResourceError as exc:
            raise ValueError(f"Executor uses invalid resources: {exc}") from None

    def _kill(self, framework: Framework, body: dict[str, Any]) -> None:
        task_id = body["task_id"]["value"]
        task = framework.tasks.get(task_id)
        unreachable = framework.unreachable_tasks.get(task_id)
        if unreachable is not None:
            # master.cpp `kill`: a task the master does not hold is reconciled instead.
            item = {"task_id": {"value": task_id}, "agent_id": {"value": unreachable.agent_id}}
            self._reconcile(framework, {"tasks": [item]})
            return
        if task is None:
            state = TaskState.UNKNOWN if framework.partition_aware else TaskState.LOST
            self._master_update(
                framework,
                {"task_id": {"value": task_id}, "agent_id": body.get("agent_id")},
                state,
                "REASON_TASK_UNKNOWN",
                "Attempted to kill an unknown task",
            )
            return
        if task.state not in TERMINAL and task.agent_id in self.agents:
            link = self.links[task.agent_id]
            if link.reachable:
                self.agents[task.agent_id].kill_task(framework.id, task_id)
            else:
                link.killed_tasks.add((framework.id, task_id))

    def _shutdown(self, framework: Framework, body: dict[str, Any]) -> None:
        executor_id = body["executor_id"]["value"]
        agent = self.agents.get(body["agent_id"]["value"])
        if agent is not None and self.links[agent.id].reachable:
            agent.shutdown_executor(framework.id, executor_id)

    def _message(self, framework: Framework, body: dict[str, Any]) -> None:
        agent = self.agents.get(body["agent_id"]["value"])
        executor_id = body["executor_id"]["value"]
        data = body["data"]
        if agent is None or not self.links[agent.id].reachable or not agent.message(
            framework.id, executor_id, data
        ):
            log.debug("framework message to unknown executor %s dropped", executor_id)

    # ------------------------------------------------------------------ status updates

    def status_update(
        self, agent: Agent, framework_id: str, status: dict[str, Any], from_executor: bool
    ) -> None:
        framework = self.frameworks.get(framework_id)
        task = framework.tasks.get(status["task_id"]["value"]) if framework else None
        new = task_state(status["state"])
        if framework is None or task is None or not task_may_become(task.state, new):
            log.debug("dropping update %s for %s", new.name, status["task_id"]["value"])
            if from_executor:
                executor_id = status["executor_id"]["value"]
                agent.acknowledged(framework_id, executor_id, task_id_of(status), status["uuid"])
            return
        task.state = new
        task.statuses.append(status)
        queue = framework.pending.setdefault(task.id, deque())
        queue.append(PendingUpdate(status, from_executor, self.update_retry))
        if len(queue) == 1:
            self._send_pending(framework, queue[0])

    def _send_pending(self, framework: Framework, pending: PendingUpdate) -> None:
        if framework.stream is None:
            return
        framework.send({"type": "UPDATE", "update": {"status": pending.status}})
        pending.next_send = now() + pending.interval
        pending.interval = min(pending.interval * 2, self.update_retry_max)

    def _acknowledge(self, framework: Framework, body: dict[str, Any]) -> None:
        task_id = body["task_id"]["value"]
        agent_id = body["agent_id"]["value"]
        uuid_ = body["uuid"]  # required, and a valid UUID (validation.py)
        queue = framework.pending.get(task_id)
        if not queue or queue[0].status["uuid"] != uuid_:
            log.debug("acknowledgement of unknown update %s for task %s", uuid_, task_id)
            return
        acked = queue.popleft()
        agent = self.agents.get(agent_id)
        if acked.from_executor and agent is not None:
            executor_id = acked.status["executor_id"]["value"]
            if self.links[agent_id].reachable:
                agent.acknowledged(framework.id, executor_id, task_id, uuid_)
            else:
                self.links[agent_id].acknowledgements.append(
                    Acknowledgement(framework.id, executor_id, task_id, uuid_)
                )
        task = framework.tasks[task_id]
        if queue:
            self._send_pending(framework, queue[0])
        elif task.state in TERMINAL:
            framework.complete_task(task)
        else:
            del framework.pending[task_id]

    def _master_update(
        self,
        framework: Framework,
        task: dict[str, Any],
        state: TaskState,
        reason: str,
        message: str,
        *,
        unreachable_time: float | None = None,
    ) -> None:
        """An update the master itself generates: sent once, without uuid (not acknowledged)."""
        status: dict[str, Any] = {
            "task_id": task["task_id"],
            "state": state.value,
            "source": "SOURCE_MASTER",
            "reason": reason,
            "message": message,
            "timestamp": now(),
        }
        if task.get("agent_id"):
            status["agent_id"] = task["agent_id"]
        if unreachable_time is not None:
            status["unreachable_time"] = {"nanoseconds": int(unreachable_time * 1e9)}
        framework.send({"type": "UPDATE", "update": {"status": status}})

    def _reconcile(self, framework: Framework, body: dict[str, Any]) -> None:
        wanted = body.get("tasks", [])
        if not wanted:
            for task in framework.tasks.values():
                self._reconcile_known(framework, task)
            return
        for item in wanted:
            known = framework.tasks.get(item["task_id"]["value"])
            if known is not None:
                self._reconcile_known(framework, known)
                continue
            agent_id = (item.get("agent_id") or {}).get("value")
            link = self.links.get(agent_id) if isinstance(agent_id, str) else None
            if link is not None and link.state is AgentState.UNREACHABLE:
                # master.cpp `reconcile`, case (4): the agent is unreachable.
                self._master_update(
                    framework,
                    item,
                    TaskState.UNREACHABLE if framework.partition_aware else TaskState.LOST,
                    "REASON_RECONCILIATION",
                    "Reconciliation: Task is unreachable",
                    unreachable_time=link.unreachable_time,
                )
                continue
            # master.cpp `_reconcileTasks`, case (3): unknown to a registered agent.
            registered = link is not None and agent_id in self.agents
            message = "Reconciliation: Task is unknown" + (" to the agent" if registered else "")
            if not framework.partition_aware:
                state = TaskState.LOST
            elif registered or agent_id in self.removed_agents:
                state = TaskState.GONE
            else:
                state = TaskState.UNKNOWN
            self._master_update(framework, item, state, "REASON_RECONCILIATION", message)

    def _reconcile_known(self, framework: Framework, task: Task) -> None:
        status: dict[str, Any] = {
            "task_id": {"value": task.id},
            "agent_id": {"value": task.agent_id},
            "state": task.state.value,
            "source": "SOURCE_MASTER",
            "reason": "REASON_RECONCILIATION",
            "message": "Reconciliation: Latest task state",
            "timestamp": now(),
        }
        if task.executor_id is not None:
            status["executor_id"] = {"value": task.executor_id}
        if task.statuses and "data" in task.statuses[-1]:
            status["data"] = task.statuses[-1]["data"]
        framework.send({"type": "UPDATE", "update": {"status": status}})

    # ------------------------------------------------------------------ agent reports

    def executor_terminated(
        self, agent: Agent, framework_id: str, executor_id: str, status: int
    ) -> None:
        framework = self.frameworks.get(framework_id)
        if framework is not None and agent.id in self.agents and self.links[agent.id].reachable:
            framework.send(
                {
                    "type": "FAILURE",
                    "failure": {
                        "agent_id": {"value": agent.id},
                        "executor_id": {"value": executor_id},
                        "status": status,
                    },
                }
            )

    def executor_message(
        self, agent: Agent, framework_id: str, executor_id: str, data: str
    ) -> None:
        framework = self.frameworks.get(framework_id)
        if framework is not None and self.links[agent.id].reachable:
            framework.send(
                {
                    "type": "MESSAGE",
                    "message": {
                        "agent_id": {"value": agent.id},
                        "executor_id": {"value": executor_id},
                        "data": data,
                    },
                }
            )

    def resources_released(self, agent: Agent) -> None:
        self.schedule_allocation(RELEASE_BATCH_SECONDS, recovered=True)

    # ------------------------------------------------------------------ agents (fault hooks)

    def add_agent(self, agent: Agent) -> None:
        self.agents[agent.id] = agent
        self.links[agent.id] = AgentLink()
        self._ping_later(agent.id)
        self.schedule_allocation()

    async def remove_agent(self, agent_id: str) -> None:
        """The agent is gone for good: its offers are rescinded, its tasks become TASK_LOST
        (TASK_GONE for PARTITION_AWARE frameworks), schedulers get an agent FAILURE."""
        agent = self.agents.pop(agent_id)
        self.removed_agents.add(agent_id)
        link = self.links[agent_id]
        link.transition(AgentState.REMOVED)
        if link.ping is not None:
            link.ping.cancel()
        self._rescind_offers(agent_id)
        for framework in self.frameworks.values():
            state = TaskState.GONE if framework.partition_aware else TaskState.LOST
            for task in [t for t in framework.unreachable_tasks.values() if t.agent_id == agent_id]:
                del framework.unreachable_tasks[task.id]
                framework.tasks[task.id] = task  # lost below, with the agent's other tasks
            self._lose_tasks(
                framework,
                agent_id,
                state,
                "REASON_AGENT_REMOVED",
                f"Agent {agent.hostname} removed",
            )
            framework.filters.pop(agent_id, None)
            framework.send({"type": "FAILURE", "failure": {"agent_id": {"value": agent_id}}})
        await agent.destroy()

    async def restart_agent(self, agent_id: str) -> None:
        """The agent process restarts: executors of checkpointing frameworks survive and
        re-subscribe; the tasks of the others are lost (REASON_AGENT_RESTARTED)."""
        agent = self.agents[agent_id]
        for framework in self.frameworks.values():
            if not framework.checkpoint:
                self._lose_tasks(
                    framework,
                    agent_id,
                    TaskState.LOST,
                    "REASON_AGENT_RESTARTED",
                    f"Agent {agent.hostname} restarted",
                )

        def keeps(framework_id: str) -> bool:
            framework = self.frameworks.get(framework_id)
            return framework is not None and framework.checkpoint

        await agent.restart(keeps)

    def _lose_tasks(
        self, framework: Framework, agent_id: str, state: TaskState, reason: str, message: str
    ) -> None:
        for task in [t for t in framework.tasks.values() if t.agent_id == agent_id]:
            if task.state not in TERMINAL:
                self._master_update(framework, task.info, state, reason, message)
                task.state = state
            framework.complete_task(task)

    # ------------------------------------------------------------------ agent partitions

    def partition_agent(self, agent_id: str) -> None:
        """The agent's connection breaks (master.cpp `exited`, `disconnect`): it is
        deactivated and its offers rescinded; its executors keep running, their updates
        wait in the agent, and the pings it no longer answers will mark it unreachable."""
        self.links[agent_id].transition(AgentState.DISCONNECTED)
        self.agents[agent_id].disconnect()
        self._rescind_offers(agent_id)

    def heal_agent(self, agent_id: str) -> None:
        """The connection is back and the agent re-registers: an unreachable agent's tasks
        are taken back (`__reregisterSlave`), then the agent sends the updates it held."""
        agent, link = self.agents[agent_id], self.links[agent_id]
        was_unreachable = link.state is AgentState.UNREACHABLE
        link.transition(AgentState.REGISTERED)
        link.missed_pings, link.unreachable_time = 0, None
        held = agent.reconnect()
        if was_unreachable:
            self._readmit_tasks(agent, held)
            self._ping_later(agent_id)
        for framework_id, status, from_executor in held:
            self.status_update(agent, framework_id, status, from_executor)
        kills, link.killed_tasks = link.killed_tasks, set()
        for framework_id, task_id in kills:
            agent.kill_task(framework_id, task_id)
        acks, link.acknowledgements = link.acknowledgements, []
        for ack in acks:
            agent.acknowledged(ack.framework_id, ack.executor_id, ack.task_id, ack.uuid)
        for framework_id in agent.framework_ids():
            if framework_id not in self.frameworks:
                self._background.run(agent.shutdown_framework(framework_id))
        self.schedule_allocation()

    def _ping_later(self, agent_id: str) -> None:
        self.links[agent_id].ping = asyncio.get_running_loop().call_later(
            self.agent_ping_timeout, self._ping, agent_id
        )

    def _ping(self, agent_id: str) -> None:
        """One health check (master.cpp `SlaveObserver`): an agent whose connection is
        broken misses it; after `max_agent_ping_timeouts` misses it is unreachable."""
        link = self.links[agent_id]
        link.ping = None
        if self.stopping or link.state in (AgentState.UNREACHABLE, AgentState.REMOVED):
            return
        link.missed_pings = 0 if link.reachable else link.missed_pings + 1
        if link.missed_pings >= self.max_agent_ping_timeouts:
            self._mark_unreachable(agent_id)
            return
        self._ping_later(agent_id)

    def _mark_unreachable(self, agent_id: str) -> None:
        """master.cpp `markUnreachable` and `__removeSlave`: each live task becomes
        TASK_UNREACHABLE (TASK_LOST for frameworks that are not PARTITION_AWARE), then each
        framework hears the agent is lost."""
        link = self.links[agent_id]
        link.transition(AgentState.UNREACHABLE)
        link.unreachable_time = now()
        link.killed_tasks.clear()
        self._rescind_offers(agent_id)
        for framework in self.frameworks.values():
            state = TaskState.UNREACHABLE if framework.partition_aware else TaskState.LOST
            for task in [t for t in framework.tasks.values() if t.agent_id == agent_id]:
                if task.state in TERMINAL:
                    continue  # its updates need no agent: they keep being retried
                self._master_update(
                    framework,
                    task.info,
                    state,
                    "REASON_AGENT_REMOVED",
                    "health check timed out",
                    unreachable_time=link.unreachable_time,
                )
                task.state = TaskState.UNREACHABLE
                del framework.tasks[task.id]
                framework.pending.pop(task.id, None)
                framework.unreachable_tasks[task.id] = task
            framework.filters.pop(agent_id, None)
            framework.send({"type": "FAILURE", "failure": {"agent_id": {"value": agent_id}}})

    def _readmit_tasks(self, agent: Agent, held: list[tuple[str, dict[str, Any], bool]]) -> None:
        """The tasks the re-registering agent still has are the master's again, for every
        framework (since Mesos 1.5 none is killed, see FrameworkInfo.Capability
        PARTITION_AWARE); each framework is told the task's latest state."""
        latest = {(fid, status["task_id"]["value"]): status["state"] for fid, status, _ in held}
        for framework in self.frameworks.values():
            for task in [t for t in framework.unreachable_tasks.values() if t.agent_id == agent.id]:
                del framework.unreachable_tasks[task.id]
                key = (framework.id, task.id)
                if key not in latest and key not in agent.task_resources:
                    continue  # the agent no longer has it: reconciliation answers for it
                # Its state as the master last had it; the held updates carry it onwards.
                before = task_state(task.statuses[-1]["state"]) if task.statuses else None
                restored = before or TaskState.STAGING
                if not task_may_become(task.state, restored):
                    raise TransitionError(f"task {task.id}: {task.state.name} -> {restored.name}")
                task.state = restored
                framework.tasks[task.id] = task
                self._master_update(
                    framework,
                    task.info,
                    task_state(latest.get(key, restored.value)),
                    "REASON_AGENT_REREGISTERED",
                    "Unreachable agent re-reregistered",
                )

    def _rescind_offers(self, agent_id: str) -> None:
        for offer in [o for o in self.offers.values() if o.agent_id == agent_id]:
            del self.offers[offer.id]
            self.frameworks[offer.framework_id].send(
                {"type": "RESCIND", "rescind": {"offer_id": {"value": offer.id}}}
            )

    # ------------------------------------------------------------------ allocation

    def start(self) -> None:
        """Starts the batch allocations of a real allocation interval (call in the loop)."""
        if self.allocation_interval is not None:
            self._batch = asyncio.get_running_loop().call_later(
                self.allocation_interval, self._allocate_batch
            )

    def _allocate_batch(self) -> None:
        assert self.allocation_interval is not None
        if self.stopping:
            return
        self.allocate()
        self._batch = asyncio.get_running_loop().call_later(
            self.allocation_interval, self._allocate_batch
        )

    def schedule_allocation(self, spacing: float = 0.0, *, recovered: bool = False) -> None:
        """Allocate once, soon: now, or no sooner than `spacing` after the last allocation
        (a request for now wins over a spaced one already waiting).

        `recovered`: resources came back (declined, unused, freed). With a real allocation
        interval they wait for the next batch, as in hierarchical.cpp, where only a new or
        activated framework, a new agent and REVIVE allocate at once."""
        if self.stopping or (recovered and self.allocation_interval is not None):
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_allocation + spacing - loop.time())
        pending = self._allocation
        if pending is not None and (delay > 0 or not isinstance(pending, asyncio.TimerHandle)):
            return
        if pending is not None:
            pending.cancel()
        self._allocation = (
            loop.call_later(delay, self.allocate) if delay > 0 else loop.call_soon(self.allocate)
        )

    def allocate(self) -> None:
        self._allocation = None
        self._last_allocation = asyncio.get_running_loop().time()
        if self.stopping:
            return
        current = now()
        offered: dict[str, Resources] = defaultdict(Resources)
        allocated: dict[str, float] = defaultdict(float)
        for offer in self.offers.values():
            offered[offer.agent_id] = offered[offer.agent_id] + offer.resources
            allocated[offer.framework_id] += offer.resources.scalars.get("cpus", 0.0)
        candidates = []
        for framework in self.frameworks.values():
            framework.filters = {a: f for a, f in framework.filters.items() if f.until > current}
            if framework.state is FrameworkState.CONNECTED and not framework.suppressed:
                used = sum(
                    agent.used_by.get(framework.id, Resources()).scalars.get("cpus", 0.0)
                    for agent in self.agents.values()
                )
                candidates.append(
                    Candidate(framework.id, allocated[framework.id] + used, framework.filters)
                )
        available = {
            agent.id: agent.total - agent.used - offered[agent.id]
            for agent in self.agents.values()
            if self.links[agent.id].reachable
        }
        by_framework: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for framework_id, agent_id in allocate(available, candidates, current):
            offer = Offer(self.next_id("O"), framework_id, agent_id, available[agent_id])
            self.offers[offer.id] = offer
            by_framework[framework_id].append(self._offer_json(offer))
        for framework_id, offers in by_framework.items():
            self.frameworks[framework_id].send({"type": "OFFERS", "offers": {"offers": offers}})

    def _offer_json(self, offer: Offer) -> dict[str, Any]:
        agent = self.agents[offer.agent_id]
        role = self.frameworks[offer.framework_id].role
        return {
            "id": {"value": offer.id},
            "framework_id": {"value": offer.framework_id},
            "agent_id": {"value": agent.id},
            "hostname": agent.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": agent.hostname, "ip": "127.0.0.1", "port": agent.port},
                "path": f"/slave({agent.index})",
            },
            "resources": offer.resources.to_proto(role),
            "attributes": agent.info()["attributes"],
            "executor_ids": [{"value": e} for e in agent.executor_ids(offer.framework_id)],
            "allocation_info": {"role": role},
        }

    def _drop_offers(self, framework: Framework) -> None:
        for offer_id in [o.id for o in self.offers.values() if o.framework_id == framework.id]:
            del self.offers[offer_id]
        self.schedule_allocation(recovered=True)

    # ------------------------------------------------------------------ periodic work

    def tick(self) -> None:
        """Re-sends unacknowledged updates that are due and offers what filters released."""
        current = now()
        for framework in self.frameworks.values():
            if framework.stream is None:
                continue
            for queue in framework.pending.values():
                if queue[0].next_send <= current:
                    self._send_pending(framework, queue[0])
        self.schedule_allocation(recovered=True)

    async def stop(self) -> None:
        """Shuts down every executor and task, then ends the schedulers' streams."""
        self.stopping = True
        if self._batch is not None:
            self._batch.cancel()
        for link in self.links.values():
            if link.ping is not None:
                link.ping.cancel()
        await asyncio.gather(*(agent.stop() for agent in self.agents.values()))
        for framework in self.frameworks.values():
            if framework.failover_timer is not None:
                framework.failover_timer.cancel()
            if framework.stream is not None:
                framework.stream.close()


def task_id_of(status: dict[str, Any]) -> str:
    return str(status["task_id"]["value"])


def _parse_operation(op: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The tasks of a (converted) LAUNCH or LAUNCH_GROUP operation, and the group's executor."""
    kind = op.get("type")
    if kind == "LAUNCH":
        return op.get("launch", {}).get("task_infos", []), None
    if kind == "LAUNCH_GROUP" and "launch_group" in op:
        group = op["launch_group"]
        return group["task_group"].get("tasks", []), group["executor"]
    raise CallRejected(400, f"Offer operation {kind!r} is not supported by localmesos")
