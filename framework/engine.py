"""The job engine: state objects for every job, driven by users and by Mesos.

Every change is written to the store before femto acts on it (launches, kills,
acknowledgements), so a restarted scheduler picks up where it stopped. One
lock serialises the engine; Mesos callbacks, API calls and the ticker all
take it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from framework import credentials, placement
from framework.datasets import Datasets, check_name, output_blob
from framework.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from framework.launch import ExecutorSpec, executor_info, offer_scalar, task_info
from framework.model import (
    Attempt,
    Job,
    Task,
    from_json_safe,
    parse_mesos_task_id,
    task_key,
    to_json_safe,
)
from framework.retries import FAILED_STATES, Fault, RetryPolicy, classify, decide
from framework.sandbox import agent_url
from framework.states import (
    TERMINAL_TASK_STATES,
    JobState,
    TaskState,
    job_transition,
    task_transition,
)
from framework.store import KeyConflict, Store, StoreError
from jobs.datasets import load_npy
from jobs.limits import Limits
from jobs.operations import UnknownOperation, get_operation
from jobs.operations.base import Query
from jobs.spec import SpecError, parse_job_spec, spec_fingerprint
from jobs.wire import parse_progress, parse_task_result
from mesosapi.encoding import decode_data
from mesosapi.errors import MesosError

log = logging.getLogger(__name__)

LIVE_MESOS_STATES = frozenset({"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"})


def wire(ref: dict[str, Any]) -> dict[str, Any]:
    """A partition reference as the executor reads it (the host is for placement only)."""
    return {key: value for key, value in ref.items() if key != "host"}


# Revives are debounced: a burst of submissions costs the master one call.
REVIVE_INTERVAL = 0.5


class Halted(Unavailable):
    """This engine's scheduler no longer leads; nothing it does may take effect.

    Deposition can land in the middle of an action; an API request caught by it gets
    the same 503 as one that arrived after it."""


class Driver(Protocol):
    """What the engine asks of a Mesos scheduler driver (mesosapi's, or a test's)."""

    def launchTasks(self, offer_ids: list[Any], tasks: list[Any], filters: Any = None) -> None: ...
    def declineOffer(self, offer_ids: list[Any], filters: Any = None) -> None: ...
    def killTask(self, task_id: Any, agent_id: Any = None) -> None: ...
    def reconcileTasks(self, tasks: list[Any]) -> None: ...
    def reviveOffers(self, roles: list[str] | None = None) -> None: ...
    def suppressOffers(self, roles: list[str] | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class EngineConfig:
    executor: ExecutorSpec
    api_url: str = ""
    attempt_key: bytes = b""  # signs each attempt's credential (framework.credentials)
    limits: Limits = field(default_factory=Limits)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    launch_timeout: float = 60.0  # a launch not RUNNING by then is killed and retried
    locality_wait: float = 3.0  # how long a task waits for an offer from its data's host
    kill_interval: float = 5.0  # kills are repeated until a terminal update confirms them
    decline_seconds: float = 5.0
    idle_decline_seconds: float = 60.0
    reconcile_backoff_max: float = 60.0
    implicit_reconcile_interval: float = 600.0
    # Other schedulers' API base URLs: executors try them when this one is gone.
    mirrors: Callable[[], list[str]] = list


@dataclass(slots=True)
class KillOrder:
    agent_id: str | None
    sent: float


@dataclass(slots=True)
class Reconciliation:
    outstanding: dict[str, str | None]  # mesos task id -> agent id
    backoff: float
    next_at: float


class Engine:
    def __init__(
        self,
        store: Store,
        datasets: Datasets,
        config: EngineConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.datasets = datasets
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.driver: Driver | None = None
        self.framework_id: str | None = None
        self.jobs: dict[str, Job] = {}  # active jobs only; finished ones live in the store
        self.tasks: dict[str, list[Task]] = {}
        self.refs: dict[str, list[list[dict[str, Any]]]] = {}  # per job, per input, per partition
        self.pending: dict[str, Task] = {}  # insertion order is launch priority
        # Watched for the launch timeout, from when this engine began to watch: a launch
        # recovered after an outage gets the whole timeout to be heard of again.
        self.launching: dict[str, tuple[Task, float]] = {}
        self.kills: dict[str, KillOrder] = {}
        self.executors: set[str] = set()  # agents where femto's executor runs
        self.room = placement.AgentRoom()  # what agents have offered: tasks none can hold
        self.agent_urls: dict[str, str] = {}  # agent id -> base URL, from offers (femto logs)
        self.suppressed = False
        self.halted = False  # deposed: no launches, no writes, no acknowledgements
        self.revive_at: float | None = None
        self.reconciliation: Reconciliation | None = None
        self.next_implicit_reconcile = 0.0
        self._dirty_tasks: dict[str, Task] = {}
        self._dirty_jobs: dict[str, Job] = {}
        self._queued: list[Callable[[Driver], None]] = []  # Mesos calls of this section
        self._outbox: list[Callable[[Driver], None]] = []  # ...handed to the sender thread
        # Its own lock, not the engine's: halt() must never wait behind a store call.
        self._outbox_ready = threading.Condition()
        self._sender: threading.Thread | None = None
        self.last_revive = -REVIVE_INTERVAL
        self.refused_idle = False  # offers declined for idle_decline_seconds since a REVIVE
        self.counters: dict[str, int] = {
            "tasks_launched": 0, "tasks_finished": 0, "tasks_failed_attempts": 0,
            "offers_received": 0, "offers_declined": 0,
        }

    @contextmanager
    def _acting(self) -> Iterator[None]:
        """The engine lock. Mesos calls queued while holding it go to the sender thread
        once the section is over (after its writes), so neither the API nor Mesos
        callbacks wait on the master."""
        with self.lock:
            try:
                # One store transaction per section: fewer commits, and fewer moments
                # where the thread holding the engine lock hands the GIL away.
                with self.store.batch():
                    yield
            finally:
                if self._queued:
                    with self._outbox_ready:
                        self._outbox += self._queued
                        self._outbox_ready.notify()
                    self._queued = []

    def _send_calls(self) -> None:
        """The sender thread: Mesos calls in the order they were queued, until halted."""
        while True:
            with self._outbox_ready:
                self._outbox_ready.wait_for(lambda: self._outbox or self.halted)
                if self.halted:
                    return
                actions, self._outbox = self._outbox, []
            driver = self.driver
            if driver is None:
                continue
            for action in actions:
                try:
                    action(driver)
                except MesosError as exc:
                    log.debug("mesos call failed (retried when due): %s", exc)
                except Halted:
                    return  # halted while the call was out: nothing more is written or sent

    def halt(self) -> None:
        """Stop acting at once; called without the lock from ZooKeeper's thread."""
        self.halted = True
        with self._outbox_ready:
            self._outbox_ready.notify()

    def _check_leading(self) -> None:
        if self.halted:
            raise Unavailable("this scheduler is not the leader; retry against the leader")

    # ----- recovery -------------------------------------------------------

    def load(self) -> None:
        """Pick up every unfinished job from the store (after a restart or failover)."""
        with self.lock:
            for state in (JobState.PENDING, JobState.RUNNING):
                for doc in self.store.find("jobs", state=state.value):
                    job = Job.from_doc(doc)
                    tasks = sorted(
                        (Task.from_doc(d) for d in self.store.find("tasks", job_id=job.id)),
                        key=lambda t: t.partition,
                    )
                    if len(tasks) != job.n_tasks:
                        self._fail_unloadable(job, f"store holds {len(tasks)} of its tasks")
                        continue
                    try:
                        inputs = [self.datasets.get(n) for n in job.spec["inputs"]]
                    except NotFound as exc:
                        self._fail_unloadable(job, exc.message)
                        continue
                    self._admit(job, tasks, inputs)
            log.info("loaded %d unfinished jobs", len(self.jobs))

    def _fail_unloadable(self, job: Job, reason: str) -> None:
        job.state, job.error, job.finished = JobState.FAILED, reason, self.clock()
        self.store.put("jobs", job.id, job.to_doc())

    def _admit(self, job: Job, tasks: list[Task], inputs: list[dict[str, Any]]) -> None:
        self.jobs[job.id] = job
        self.tasks[job.id] = tasks
        self.refs[job.id] = [self.datasets.refs(doc, self.config.api_url) for doc in inputs]
        job.counts = {}
        job.attempts = 0
        for task in tasks:
            job.counts[task.state] = job.counts.get(task.state, 0) + 1
            job.attempts += len(task.attempts)
            if task.state is TaskState.PENDING:
                self.pending[task.key] = task
            elif task.state is TaskState.LAUNCHING:
                self.launching[task.key] = (task, self.clock())

    # ----- users ----------------------------------------------------------

    def submit(self, body: Any, owner: str | None = None) -> tuple[dict[str, Any], bool]:
        """Accept a job spec from `owner`; returns (job view, created). Idempotent for a
        given id and owner."""
        try:
            spec = parse_job_spec(body, self.config.limits)
        except SpecError as exc:
            raise Invalid("invalid job spec", exc.errors) from exc
        try:
            operation = get_operation(spec.operation)
        except UnknownOperation as exc:  # parse_job_spec checks too; kept for clarity of cause
            raise Invalid(str(exc), [{"loc": "operation", "msg": str(exc)}]) from exc
        canonical = spec.model_dump(mode="json")
        fingerprint = spec_fingerprint(spec)
        with self._acting():
            self._check_leading()
            job_id = canonical.get("id") or str(uuid.uuid4())
            existing = self.jobs.get(job_id) or self._stored_job(job_id)
            if existing is not None:
                if existing.fingerprint != fingerprint or existing.owner != owner:
                    raise Conflict(
                        f"job {job_id} exists with another spec", [{"loc": "id", "msg": "taken"}]
                    )
                return existing.view(), False
            inputs = []
            for i, name in enumerate(spec.inputs):
                doc = self.store.get("datasets", name)
                if doc is None:
                    raise NotFound(
                        f"input dataset {name!r} not found",
                        [{"loc": f"inputs.{i}", "msg": "unknown dataset"}],
                    )
                inputs.append(doc)
            try:
                operation.check_inputs(
                    spec.parsed_params(),
                    [d["dtype"] for d in inputs],
                    [tuple(d["shape"]) for d in inputs],
                    [[p["length"] for p in d["partitions"]] for d in inputs],
                )
            except ValueError as exc:
                raise Invalid(str(exc), [{"loc": "inputs", "msg": str(exc)}]) from exc
            output = self._output_name(spec.output, operation.kind, spec.name, job_id)
            now = self.clock()
            n_tasks = len(inputs[0]["partitions"])
            job = Job(
                id=job_id, name=spec.name, operation=spec.operation, spec=canonical,
                fingerprint=fingerprint, created=now, n_tasks=n_tasks, output=output,
                owner=owner,
            )
            tasks = [Task(job_id=job_id, partition=i, waiting_since=now) for i in range(n_tasks)]
            # Tasks first: the job document is what commits the submission.
            self.store.put_many("tasks", {t.key: t.to_doc() for t in tasks})
            try:
                self.store.insert("jobs", job_id, job.to_doc())
            except KeyConflict as exc:
                raise Conflict(f"job {job_id} exists", [{"loc": "id"}]) from exc
            self._admit(job, tasks, inputs)
            log.info("job %s (%s) submitted with %d tasks", job_id, spec.operation, n_tasks)
            self._want_offers()
            return job.view(), True

    def _output_name(self, requested: str | None, kind: str, name: str, job_id: str) -> str | None:
        if kind != "transform":
            if requested is not None:
                raise Invalid(
                    "output is only for transforms; a query's result is in the job",
                    [{"loc": "output", "msg": "must be null for a query"}],
                )
            return None
        output = requested or f"{name}-{job_id[:8]}"
        check_name(output)
        if self.store.get("datasets", output) is not None or any(
            j.output == output for j in self.jobs.values()
        ):
            raise Conflict(f"output dataset {output!r} exists", [{"loc": "output"}])
        return output

    def _stored_job(self, job_id: str) -> Job | None:
        doc = self.store.get("jobs", job_id)
        if doc is None:
            return None
        job = Job.from_doc(doc)
        if job.finished is None:
            # Another scheduler runs it (this one stands by): count its tasks now.
            tasks = [Task.from_doc(d) for d in self.store.find("tasks", job_id=job_id)]
            job.counts = dict(Counter(t.state for t in tasks))
            job.attempts = sum(len(t.attempts) for t in tasks)
        return job

    def job(self, job_id: str, owner: str | None = None) -> dict[str, Any]:
        """The job's view; `owner` given: only if it is that owner's."""
        with self.lock:
            job = self.jobs.get(job_id) or self._stored_job(job_id)
        if job is None or (owner is not None and job.owner != owner):
            raise NotFound(f"job {job_id} not found", [{"loc": "id", "msg": "unknown job"}])
        return job.view()

    def list_jobs(
        self, state: str | None = None, owner: str | None = None, *, offset: int = 0,
        limit: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the jobs in submission order, without their results (a list of
        large histograms ran to megabytes), and how many jobs there are in all."""
        equals = {"state": state} if state else {}
        docs = [d for d in self.store.find("jobs", **equals)
                if owner is None or d.get("owner") == owner]
        page = docs[offset:] if limit is None else docs[offset:offset + limit]
        with self.lock:
            jobs = [
                (self.jobs.get(d["id"]) or self._stored_job(d["id"]) or Job.from_doc(d))
                if d["finished"] is None else Job.from_doc(d)
                for d in page
            ]
        return [job.view(with_result=False) for job in jobs], len(docs)

    def task_views(self, job_id: str, owner: str | None = None) -> list[dict[str, Any]]:
        if owner is not None:
            self.job(job_id, owner)  # NotFound unless it is the owner's
        with self.lock:
            if job_id in self.tasks:
                return [t.view() for t in self.tasks[job_id]]
        if self.store.get("jobs", job_id) is None:
            raise NotFound(f"job {job_id} not found", [{"loc": "id", "msg": "unknown job"}])
        docs = self.store.find("tasks", job_id=job_id)
        return [Task.from_doc(d).view() for d in sorted(docs, key=lambda d: d["partition"])]

    def cancel(self, job_id: str, owner: str | None = None) -> dict[str, Any]:
        with self._acting():
            self._check_leading()
            job = self.jobs.get(job_id)
            if job is None or (owner is not None and job.owner != owner):
                return self.job(job_id, owner)  # already over (or not theirs: NotFound)
            self._end_job(job, JobState.CANCELLED, error="cancelled by user")
            self._flush()
            self._send_kills()
            return job.view()

    def busy_datasets(self) -> set[str]:
        with self.lock:
            names = set()
            for job in self.jobs.values():
                if job.finished is None:
                    names.update(job.spec["inputs"])
            return names

    def delete_dataset(self, name: str) -> None:
        """NotFound if there is no dataset `name`; Conflict while an unfinished job reads it."""
        self.datasets.get(name)
        if name in self.busy_datasets():
            raise Conflict(f"dataset {name!r} is an input of a running job", [{"loc": "name"}])
        self.datasets.delete(name)

    def check_input(self, task_id: str, dataset: str) -> None:
        """Forbidden unless attempt `task_id` (from its credential) belongs to an unfinished
        job that reads `dataset`. A standby answers too, from the store."""
        parsed = parse_mesos_task_id(task_id)
        with self.lock:
            job = (self.jobs.get(parsed[0]) or self._stored_job(parsed[0])) if parsed else None
        if job is None or job.finished is not None or dataset not in job.spec["inputs"]:
            raise Forbidden(
                f"attempt {task_id} may not read dataset {dataset!r}: it is not an input of "
                "an unfinished job of that attempt",
                [{"loc": "Authorization", "msg": "not an input of the attempt's job"}])

    def accept_output(
        self, task_id: str, job_id: str, partition: int, body: bytes
    ) -> dict[str, Any]:
        """Store a transform's output partition, uploaded by the executor running attempt
        `task_id` (from its credential): only that partition's current, live attempt."""
        with self.lock:
            self._check_leading()
            job = self.jobs.get(job_id)
            if job is None or job.output is None or not 0 <= partition < job.n_tasks:
                raise NotFound(f"job {job_id} expects no output for partition {partition}")
            task = self.tasks[job_id][partition]
            current = task.current
            if (current is None or task.mesos_id(current) != task_id
                    or task.state not in (TaskState.LAUNCHING, TaskState.RUNNING)
                    or current.ended is not None):
                raise Forbidden(
                    f"attempt {task_id} may not deliver partition {partition} of job {job_id}: "
                    "it is not that partition's live attempt",
                    [{"loc": "Authorization", "msg": "not the live attempt"}])
        try:
            array = load_npy(body)
        except ValueError as exc:
            raise Invalid(f"output is not a valid .npy: {exc}") from exc
        meta = {"length": len(array), "dtype": array.dtype.str, "shape": list(array.shape)}
        self.store.put_blob(output_blob(job_id, partition), body)
        # Outputs are keyed by (job, partition): a duplicate attempt overwrites
        # the same blob with the same data and cannot add a partition.
        self.store.put(
            "partials", task_key(job_id, partition),
            {"job_id": job_id, "partition": partition, "value": meta},
        )
        return meta

    # ----- Mesos ----------------------------------------------------------

    def attach(self, driver: Driver) -> None:
        with self.lock:
            self.driver = driver
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._send_calls, name="femto-mesos-calls", daemon=True
                )
                self._sender.start()

    def on_subscribed(self, framework_id: str) -> None:
        with self._acting():
            self.framework_id = framework_id
            self.store.put("meta", "framework", {"id": framework_id})
            self.suppressed = False
            self.executors.clear()  # re-learnt from offers and updates
            self.room = placement.AgentRoom()
            outstanding: dict[str, str | None] = {}
            for tasks in self.tasks.values():
                for task in tasks:
                    attempt = task.current
                    if attempt is not None:
                        outstanding[task.mesos_id(attempt)] = attempt.agent_id
            for task_id, order in self.kills.items():
                outstanding[task_id] = order.agent_id
            self.reconciliation = Reconciliation(outstanding, 1.0, 0.0)
            self.next_implicit_reconcile = self.clock()
            self._reconcile()
            self._want_offers()

    def on_offers(self, offers: list[dict[str, Any]]) -> None:
        with self._acting():
            if self.halted:
                return
            self.counters["offers_received"] += len(offers)
            now = self.clock()
            slots = [self._slot(offer) for offer in offers]
            for slot in slots:
                self.room.observe(slot)
            if not self.pending:
                self._decline(offers, self.config.idle_decline_seconds)
                self.refused_idle = True
                # Suppressed only once no job is left: while jobs come and go, suppressing
                # between them cost a SUPPRESS and a REVIVE per job, more than the
                # declines of the (batched) offers it saves.
                if not self.jobs and not self.suppressed:
                    self._call(lambda d: d.suppressOffers())
                    self.suppressed = True
                return
            by_id = {o["id"]["value"]: o for o in offers}
            # Lazy: placement stops early once the offers are full. Tasks in their
            # retry backoff already asked for a revive when it ends.
            candidates = (self._candidate(t) for t in self.pending.values()
                          if t.not_before <= now)
            plan = placement.place(
                slots, candidates, now=now, locality_wait=self.config.locality_wait,
                executor=self._executor_cost(),
            )
            if plan.waiting_for_locality:
                self.revive_at = min(self.revive_at or now + 0.5, now + 0.5)
            launches = self._launch(plan, by_id, now)
            unused = [o for oid, o in by_id.items() if oid not in plan.by_offer]
            self._decline(unused, self.config.decline_seconds)
            self._flush()
            for offer_id, infos in launches.items():
                self._call(partial(self._send_launch, offer_id, infos))
                self.counters["tasks_launched"] += len(infos)

    def _slot(self, offer: dict[str, Any]) -> placement.OfferSlot:
        cpus, _ = offer_scalar(offer, "cpus")
        mem, _ = offer_scalar(offer, "mem")
        agent = offer["agent_id"]["value"]
        url = agent_url(offer)
        if url is not None:
            self.agent_urls[agent] = url
        return placement.OfferSlot(
            offer["id"]["value"], agent, offer.get("hostname", ""), cpus, mem,
            agent in self.executors,
        )

    def _executor_cost(self) -> placement.ExecutorCost:
        return placement.ExecutorCost(self.config.executor.cpus, self.config.executor.mem)

    def _send_launch(self, offer_id: str, infos: list[dict[str, Any]], driver: Driver) -> None:
        try:
            driver.launchTasks([offer_id], infos, {"refuse_seconds": 1.0})
        except MesosError as exc:
            log.warning("launch into offer %s failed: %s", offer_id, exc)
            with self._acting():
                self._unlaunch(infos)
                self._flush()
                self._want_offers()

    def _candidate(self, task: Task) -> placement.Candidate:
        spec = self.jobs[task.job_id].spec
        hosts = frozenset(
            ref[task.partition]["host"] for ref in self.refs[task.job_id]
            if ref[task.partition]["host"]
        )
        return placement.Candidate(
            key=task.key, cpus=spec["resources"]["cpus"], mem=spec["resources"]["mem"],
            preferred_hosts=hosts, avoid_agents=task.avoid_agents(),
            waiting_since=task.waiting_since,
        )

    def _launch(
        self, plan: placement.Placement, offers: dict[str, dict[str, Any]], now: float
    ) -> dict[str, list[dict[str, Any]]]:
        launches: dict[str, list[dict[str, Any]]] = {}
        mirrors = self.config.mirrors() if plan.by_offer else []
        for offer_id, keys in plan.by_offer.items():
            offer = offers[offer_id]
            agent_id = offer["agent_id"]["value"]
            executor = executor_info(
                self.config.executor, agent_id, self.framework_id or "", offer
            )
            infos = []
            for key in keys:
                task = self.pending.pop(key)
                job = self.jobs[task.job_id]
                attempt = Attempt(
                    n=len(task.attempts) + 1, agent_id=agent_id,
                    host=offer.get("hostname", ""), launched=now,
                )
                task.attempts.append(attempt)
                task.progress = 0.0
                self._set_task(task, TaskState.LAUNCHING)
                job.attempts += 1
                if job.state is JobState.PENDING:
                    job.state = job_transition(job.state, JobState.RUNNING)
                    job.started = now
                    self._dirty_jobs[job.id] = job
                infos.append(task_info(
                    task_id=task.mesos_id(attempt), name=f"femto {job.name} #{task.partition}",
                    offer=offer, cpus=job.spec["resources"]["cpus"],
                    mem=job.spec["resources"]["mem"], executor=executor,
                    payload=self._payload(job, task, attempt, mirrors),
                ))
            self.executors.add(agent_id)
            launches[offer_id] = infos
        return launches

    def _unlaunch(self, infos: list[dict[str, Any]]) -> None:
        """Undo launches the master never took: back to pending, uncharged."""
        for info in infos:
            parsed = parse_mesos_task_id(info["task_id"]["value"])
            assert parsed is not None
            task = self.tasks[parsed[0]][parsed[1]] if parsed[0] in self.tasks else None
            if task is None or task.state is not TaskState.LAUNCHING \
                    or len(task.attempts) != parsed[2]:
                continue  # its job ended meanwhile
            self.counters["tasks_launched"] -= 1
            task.attempts.pop()
            self.jobs[task.job_id].attempts -= 1
            self._set_task(task, TaskState.PENDING)
            self.pending[task.key] = task

    def _payload(
        self, job: Job, task: Task, attempt: Attempt, mirrors: list[str]
    ) -> dict[str, Any]:
        refs = self.refs[job.id]
        operation = get_operation(job.operation)
        params = job.spec["params"]
        need = operation.left_context(operation.Params.model_validate(params))
        left: list[dict[str, Any]] = []
        index = task.partition - 1
        while need > 0 and index >= 0:
            left.insert(0, refs[0][index])
            need -= refs[0][index]["length"]
            index -= 1
        api = self.config.api_url
        return {
            "job_id": job.id, "partition": task.partition, "attempt": attempt.n,
            "operation": job.operation, "params": params,
            "inputs": [wire(r[task.partition]) for r in refs], "left": [wire(r) for r in left],
            "output": (
                {"url": f"{api}/executor/jobs/{job.id}/outputs/{task.partition}"}
                if job.output else None
            ),
            "credential": credentials.issue(self.config.attempt_key, task.mesos_id(attempt)),
            "api_mirrors": mirrors,
        }

    def on_status(self, status: dict[str, Any]) -> None:
        """One TaskStatus from Mesos. Returns once the change is stored, so the
        driver acknowledges only what femto has recorded."""
        with self._acting():
            if self.halted:
                raise Halted("not acknowledged: a leader will receive it again")
            task_id = status["task_id"]["value"]
            state = status["state"]
            agent = status.get("agent_id", {}).get("value")
            if self.reconciliation:
                self.reconciliation.outstanding.pop(task_id, None)
            if state not in LIVE_MESOS_STATES:
                self.kills.pop(task_id, None)
            parsed = parse_mesos_task_id(task_id)
            job = self.jobs.get(parsed[0]) if parsed else None
            task = None
            if parsed and job and parsed[1] < job.n_tasks:
                task = self.tasks[job.id][parsed[1]]
            attempt = None
            if task is not None and parsed and 1 <= parsed[2] <= len(task.attempts):
                attempt = task.attempts[parsed[2] - 1]
            if task is None or attempt is None:
                # Not a task femto runs now (a finished job's, a stale attempt
                # from before a restart): make sure it does not keep running.
                if state in LIVE_MESOS_STATES:
                    self._order_kill(task_id, agent)
                return
            assert job is not None
            try:
                if state == "TASK_FINISHED":
                    self._finished(job, task, attempt, status)
                elif state in FAILED_STATES:
                    self._failed(job, task, attempt, status)
                elif state == "TASK_RUNNING":
                    self._running(task, attempt, status)
            except StoreError:
                raise  # unacknowledged, so Mesos delivers the update again
            except Exception as exc:  # one bad update fails its job, not the scheduler
                log.exception("job %s: cannot handle update %s %s", job.id, task_id, state)
                if job.finished is None:
                    self._end_job(job, JobState.FAILED,
                                  error=f"internal error on update {state} of {task_id}: {exc}")
            self._flush()
            self._send_kills()

    def _running(self, task: Task, attempt: Attempt, status: dict[str, Any]) -> None:
        if attempt is task.current:
            attempt.state = "TASK_RUNNING"
            if task.state is TaskState.LAUNCHING:
                attempt.running = self.clock()
                self._set_task(task, TaskState.RUNNING)
        else:
            # Not the live attempt: one femto gave up on (e.g. TASK_UNREACHABLE, retried
            # elsewhere) whose agent came back, or a duplicate. Its work is done elsewhere.
            attempt.state = "TASK_RUNNING"
            self._dirty_tasks[task.key] = task
            self._order_kill(task.mesos_id(attempt), attempt.agent_id)

    def _finished(self, job: Job, task: Task, attempt: Attempt, status: dict[str, Any]) -> None:
        attempt.state, attempt.ended = "TASK_FINISHED", self.clock()
        if task.state in TERMINAL_TASK_STATES:
            self._dirty_tasks[task.key] = task
            return
        key = task_key(job.id, task.partition)
        value = self._result_of(status)
        if value is None and attempt is not task.current:
            # An old attempt's end without its result (e.g. the master's word when its
            # agent re-registers): the live attempt goes on; the result may follow.
            self._dirty_tasks[task.key] = task
            return
        if value is None and self.store.get("partials", key) is None:
            # e.g. a reconciliation answer, which carries no data: run it again.
            self._retry_or_fail(job, task, attempt, Fault.INFRA, "finished without a result")
            return
        if value is not None:
            # First write wins: a duplicate attempt never counts twice.
            self.store.insert_if_absent("partials", key, {
                "job_id": job.id, "partition": task.partition, "value": to_json_safe(value),
            })
        self.pending.pop(task.key, None)
        current = task.current
        if current is not None and current is not attempt:
            self._order_kill(task.mesos_id(current), current.agent_id)
            current.ended, current.message = self.clock(), "superseded by an earlier attempt"
        self._set_task(task, TaskState.FINISHED)
        self.counters["tasks_finished"] += 1
        if job.counts.get(TaskState.FINISHED, 0) == job.n_tasks:
            self._complete(job)

    @staticmethod
    def _result_of(status: dict[str, Any]) -> Any:
        data = status.get("data")
        if not data:
            return None
        try:
            message = parse_task_result(decode_data(data))
        except ValueError as exc:
            log.warning("task %s finished with %s", status["task_id"]["value"], exc)
            return None
        return message.output.model_dump() if message.output is not None else message.result

    def _failed(self, job: Job, task: Task, attempt: Attempt, status: dict[str, Any]) -> None:
        attempt.state, attempt.ended = status["state"], self.clock()
        # Keep the reason femto gave up on an attempt (e.g. a launch timeout).
        attempt.message = attempt.message or status.get("message") or status.get("reason")
        self.counters["tasks_failed_attempts"] += 1
        if attempt is not task.current:
            self._dirty_tasks[task.key] = task
            return
        fault = classify(status)
        self._retry_or_fail(job, task, attempt, fault, attempt.message or status["state"])

    def _retry_or_fail(
        self, job: Job, task: Task, attempt: Attempt, fault: Fault, message: str
    ) -> None:
        attempt.fault = fault.value
        attempt.message = attempt.message or message
        if fault is Fault.WORK:
            task.charged += 1
        else:
            task.infra += 1
        decision = decide(fault, task.charged, task.infra, job.spec["max_retries"],
                          self.config.retry)
        if decision.retry:
            task.not_before = self.clock() + decision.delay
            task.waiting_since = task.not_before
            self._set_task(task, TaskState.PENDING)
            self.pending[task.key] = task
            self.revive_at = min(self.revive_at or task.not_before, task.not_before)
            log.info("task %s retries in %.1fs after %s failure: %s",
                     task.key, decision.delay, fault.value, message)
            return
        self._set_task(task, TaskState.FAILED)
        self._end_job(
            job, JobState.FAILED,
            error=f"partition {task.partition} {decision.reason}; last error: {message}",
        )

    def _complete(self, job: Job) -> None:
        partials = sorted(
            (from_json_safe(p) for p in self.store.find("partials", job_id=job.id)),
            key=lambda p: p["partition"],
        )
        try:
            if job.output is not None:
                self.datasets.from_outputs(job.output, job.id, [p["value"] for p in partials])
                result: dict[str, Any] = {"dataset": job.output}
            else:
                operation = get_operation(job.operation)
                assert isinstance(operation, Query)
                params = operation.Params.model_validate(job.spec["params"])
                result = operation.reduce([p["value"] for p in partials], params)
        except Exception as exc:  # a reducer's failure fails this job, not the scheduler
            log.exception("job %s could not reduce its results", job.id)
            self._end_job(job, JobState.FAILED, error=f"reducing results failed: {exc}")
            return
        self._end_job(job, JobState.FINISHED, result=result)

    def _end_job(
        self, job: Job, state: JobState, *, error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        for task in self.tasks[job.id]:
            if task.state in TERMINAL_TASK_STATES:
                continue
            attempt = task.current
            if attempt is not None:
                self._order_kill(task.mesos_id(attempt), attempt.agent_id)
            self.pending.pop(task.key, None)
            self._set_task(task, TaskState.KILLED)
        job.state = job_transition(job.state, state)
        job.finished, job.error, job.result = self.clock(), error, result
        job.waiting = None
        self._dirty_jobs[job.id] = job
        if state is not JobState.FINISHED and job.output is not None:
            for partition in range(job.n_tasks):
                self.store.delete_blob(output_blob(job.id, partition))
        log.info("job %s %s%s", job.id, state.value, f": {error}" if error else "")

    def on_message(self, data: bytes) -> None:
        try:
            message = parse_progress(data)
        except ValueError:
            log.debug("ignored a framework message that is not progress: %r", data[:200])
            return
        parsed = parse_mesos_task_id(message.task_id)
        progress = message.progress
        with self.lock:
            if parsed and parsed[0] in self.tasks and parsed[1] < len(self.tasks[parsed[0]]):
                self.tasks[parsed[0]][parsed[1]].progress = min(1.0, max(0.0, progress))

    def on_executor_lost(self, agent_id: str) -> None:
        with self.lock:
            self.executors.discard(agent_id)

    def on_agent_lost(self, agent_id: str) -> None:
        with self.lock:
            self.executors.discard(agent_id)
            self.room.forget(agent_id)

    # ----- time -----------------------------------------------------------

    def tick(self) -> None:
        """Timeouts, repeated kills, reconciliation and revives; call every ~0.5 s."""
        with self._acting():
            if self.halted:
                return
            now = self.clock()
            for task, since in list(self.launching.values()):
                attempt = task.attempts[-1]
                if now - since > self.config.launch_timeout:
                    self._order_kill(task.mesos_id(attempt), attempt.agent_id)
                    attempt.ended, attempt.state = now, "TIMED_OUT"
                    self._retry_or_fail(self.jobs[task.job_id], task, attempt, Fault.INFRA,
                                        f"not running after {self.config.launch_timeout}s")
            self._forget_ended_jobs()
            self._explain_waits(now)
            self._flush()
            self._send_kills(repeat=True)
            if self.revive_at is not None and now >= self.revive_at:
                self.revive_at = None
                self._want_offers()
            self._reconcile()

    def _forget_ended_jobs(self) -> None:
        for job_id in [j.id for j in self.jobs.values() if j.finished is not None]:
            if job_id in self._dirty_jobs:
                continue
            del self.jobs[job_id], self.tasks[job_id], self.refs[job_id]
            self.store.delete_where("partials", job_id=job_id)

    def _explain_waits(self, now: float) -> None:
        """Say on each job whose tasks no agent seen can hold, once one of them has waited
        past the locality wait (by then every agent has had its chance to offer). The job
        stays PENDING: a bigger agent may join, as on any Mesos cluster."""
        executor = self._executor_cost()
        for job in self.jobs.values():
            reason = None
            if job.finished is None and job.counts.get(TaskState.PENDING, 0):
                resources = job.spec["resources"]
                reason = self.room.unplaceable(resources["cpus"], resources["mem"], executor)
                if reason is not None and not any(
                    t.state is TaskState.PENDING and t.not_before <= now
                    and now - t.waiting_since > self.config.locality_wait
                    for t in self.tasks[job.id]
                ):
                    reason = None
            job.waiting = reason

    def _reconcile(self) -> None:
        rec = self.reconciliation
        now = self.clock()
        if self.driver is None or rec is None:
            return
        if rec.outstanding and now >= rec.next_at:
            tasks = [
                {"task_id": {"value": tid}, **({"agent_id": {"value": a}} if a else {})}
                for tid, a in rec.outstanding.items()
            ]
            self._call(lambda d: d.reconcileTasks(tasks))
            rec.next_at = now + rec.backoff
            rec.backoff = min(rec.backoff * 2, self.config.reconcile_backoff_max)
        elif not rec.outstanding and now >= self.next_implicit_reconcile:
            # Implicit: the master reports every task it knows; ones femto
            # does not run are killed in on_status.
            self._call(lambda d: d.reconcileTasks([]))
            self.next_implicit_reconcile = now + self.config.implicit_reconcile_interval

    # ----- helpers --------------------------------------------------------

    def _set_task(self, task: Task, state: TaskState) -> None:
        job = self.jobs[task.job_id]
        job.counts[task.state] -= 1
        task.state = task_transition(task.state, state)
        job.counts[state] = job.counts.get(state, 0) + 1
        self._dirty_tasks[task.key] = task
        if state is TaskState.LAUNCHING:
            self.launching[task.key] = (task, self.clock())
        else:
            self.launching.pop(task.key, None)

    def _order_kill(self, task_id: str, agent_id: str | None) -> None:
        if task_id not in self.kills:
            self.kills[task_id] = KillOrder(agent_id, 0.0)

    def _send_kills(self, repeat: bool = False) -> None:
        now = self.clock()
        for task_id, order in list(self.kills.items()):
            if order.sent and (not repeat or now - order.sent < self.config.kill_interval):
                continue
            agent = {"value": order.agent_id} if order.agent_id else None

            def kill(driver: Driver, task_id: str = task_id, agent: Any = agent) -> None:
                driver.killTask({"value": task_id}, agent)

            self._call(kill)
            order.sent = now

    def _want_offers(self) -> None:
        if not self.pending:
            return
        now = self.clock()
        # Idle offers were declined with a long filter since the last REVIVE: none will
        # come before the next one, so waiting out the interval only delays the work.
        if self.suppressed or self.refused_idle or now - self.last_revive >= REVIVE_INTERVAL:
            self._call(lambda d: d.reviveOffers())
            self.suppressed, self.refused_idle, self.last_revive = False, False, now
        else:
            due = self.last_revive + REVIVE_INTERVAL
            self.revive_at = min(self.revive_at or due, due)

    def _decline(self, offers: list[dict[str, Any]], seconds: float) -> None:
        if offers:
            ids = [o["id"] for o in offers]
            self._call(lambda d: d.declineOffer(ids, {"refuse_seconds": seconds}))
            self.counters["offers_declined"] += len(offers)

    def _call(self, action: Callable[[Driver], None]) -> None:
        """Queue a Mesos call; it goes out once the section is over. A call that fails
        is not lost for good: kills repeat, reconciliation retries, and a
        resubscription revives offers."""
        self._queued.append(action)

    def _flush(self) -> None:
        if self.halted:
            raise Halted("a halted engine writes nothing")
        if self._dirty_tasks:
            self.store.put_many("tasks", {k: t.to_doc() for k, t in self._dirty_tasks.items()})
            self._dirty_tasks.clear()
        if self._dirty_jobs:
            self.store.put_many("jobs", {k: j.to_doc() for k, j in self._dirty_jobs.items()})
            self._dirty_jobs.clear()
