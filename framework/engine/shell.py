"""The engine's I/O shell: the `Engine` the rest of femto uses.

It feeds users' calls, Mesos callbacks and the ticker to the pure core
(framework.engine.core) and carries out the instructions the core returns, in order.
Every change is written to the store before femto acts on it (launches, kills,
acknowledgements), so a restarted scheduler picks up where it stopped. One lock
serialises the engine; Mesos calls go out on a sender thread after the writes."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from femto import credentials, streams
from femto.datasets import Datasets, check_name, is_closed
from femto.engine import results
from femto.engine.admission import Admitted, admit, check_inputs, readmit
from femto.engine.config import EngineConfig, Input, InputColumns, InputPartition
from femto.engine.core import Core, Halted
from femto.engine.instructions import (
    CloseOutput,
    Complete,
    Decline,
    DeleteOutputs,
    ForgetPartials,
    Instruction,
    Kill,
    Launch,
    Persist,
    Progressed,
    PublishOutputs,
    Reconcile,
    RecordPartial,
    RememberFramework,
    Revive,
    Suppress,
)
from femto.engine.outbox import Call, Driver, Outbox
from femto.engine.reads import JobReads
from femto.engine.views import job_event, job_view, task_event
from femto.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from femto.eventlog import Deferred, EventLog
from femto.events import Event, ProgressEvent
from femto.jobs.datasets import load_npy
from femto.jobs.spec import SpecError
from femto.launch import executor_info, task_info
from femto.lifecycle import JobState
from femto.model import Job, Task, from_json_safe, task_key
from femto.store import KeyConflict, Store
from mesosapi.errors import MesosError

log = logging.getLogger(__name__)


class Engine(JobReads):
    def __init__(self, store: Store, datasets: Datasets, config: EngineConfig,
                 clock: Callable[[], float] = time.time, events: EventLog | None = None
                 ) -> None:
        self.store = store
        self.datasets = datasets
        self.config = config
        self.clock = clock
        self.core = Core(config)
        self.lock = threading.RLock()
        self._queued: list[Call] = []  # Mesos calls of this section
        self.events = events if events is not None else EventLog()
        # What this section changed, told once its writes are committed: one event per
        # task and per job, as they are at the section's end.
        self._changed_tasks: dict[Task, None] = {}
        self._changed_jobs: dict[str, Job] = {}
        self.outbox = Outbox(lambda: self.core.halted)
        # Told the workflow id of every step job this engine writes (femto.workflows).
        self.on_step_job: Callable[[str], None] | None = None

    # What the API's metrics and log routes read (under the lock).
    @property
    def jobs(self) -> dict[str, Job]:
        return self.core.jobs

    @property
    def pending(self) -> dict[Task, None]:
        return self.core.pending

    @property
    def counters(self) -> dict[str, int]:
        return self.core.counters

    @property
    def framework_id(self) -> str | None:
        return self.core.framework_id

    @property
    def agent_urls(self) -> dict[str, str]:
        return self.core.agent_urls

    @property
    def halted(self) -> bool:
        return self.core.halted

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
                if self._changed_jobs:
                    self._publish_changes()
            finally:
                self._changed_tasks.clear()
                self._changed_jobs.clear()
                if self._queued:
                    self.outbox.post(self._queued)
                    self._queued = []

    def halt(self) -> None:
        """Stop acting at once; called without the lock from ZooKeeper's thread."""
        self.core.depose()
        self.outbox.wake()

    def _check_leading(self) -> None:
        if self.halted:
            raise Unavailable("this scheduler is not the leader; retry against the leader")

    # ----- carrying out the core's instructions ----------------------------

    def _carry_out(self, instructions: list[Instruction]) -> None:
        """In order: writes (none once halted), then Mesos calls queued for the sender. A
        call that fails is not lost for good: kills repeat, reconciliation retries, and a
        resubscription revives offers."""
        mirrors: list[str] | None = None
        for ins in instructions:
            if not isinstance(
                    ins, Launch | Decline | Kill | Reconcile | Revive | Suppress | Progressed
            ) and self.halted:
                raise Halted("a halted engine writes nothing")
            match ins:
                case Persist(tasks, jobs):
                    if tasks:
                        self.store.put_many("tasks", {t.key: t.to_doc() for t in tasks})
                    if jobs:
                        self.store.put_many("jobs", {j.id: j.to_doc() for j in jobs})
                    self._tell(tasks, jobs)
                case Progressed(job_id, partition, attempt, progress):
                    job = self._active_job(job_id)
                    if job is not None:
                        # Four places: the float noise of a fraction's sums is nobody's.
                        self.events.publish([(ProgressEvent(
                            job=job_id, partition=partition, attempt=attempt,
                            progress=round(progress, 4)), job_id, job.owner)])
                case RecordPartial(job_id, partition, attempt, value):
                    results.record_partial(self.store, job_id, partition, attempt, value)
                case Complete(job_id):
                    if self.core.active[job_id].job.finished is None:  # e.g. failed since
                        self._complete(job_id)
                case PublishOutputs(job_id, partitions):
                    self._publish(job_id, partitions)
                case CloseOutput(job_id):
                    self._close_output(job_id)
                case DeleteOutputs(job_id, attempts):
                    for partition, n in attempts:
                        self.store.delete_blob(results.output_blob(job_id, partition, n))
                case ForgetPartials(job_id):
                    self.store.delete_where("partials", job_id=job_id)
                case RememberFramework(framework_id):
                    self.store.put("meta", "framework", {"id": framework_id})
                case Launch():
                    if mirrors is None:
                        mirrors = self.config.mirrors()
                    self._queued.append(partial(self._send_launch, ins.offer["id"]["value"],
                                                 self._infos(ins, mirrors)))
                case Decline(offer_ids, seconds):
                    self._queued.append(partial(_decline, list(offer_ids), seconds))
                case Kill(task_id, agent_id):
                    self._queued.append(partial(_kill, task_id, agent_id))
                case Reconcile(tasks):
                    self._queued.append(partial(_reconcile, tasks))
                case Revive():
                    self._queued.append(lambda d: d.reviveOffers())
                case Suppress():
                    self._queued.append(lambda d: d.suppressOffers())

    def _active_job(self, job_id: str) -> Job | None:
        active = self.core.active.get(job_id)
        return active.job if active is not None else None

    def _tell(self, tasks: tuple[Task, ...], jobs: tuple[Job, ...]) -> None:
        """Remember what this section wrote, for its events."""
        for job in jobs:
            self._changed_jobs[job.id] = job
            if job.workflow is not None and self.on_step_job is not None:
                self.on_step_job(job.workflow)
        for task in tasks:
            active = self._active_job(task.job_id)
            if active is not None:
                self._changed_tasks[task] = None
                self._changed_jobs[active.id] = active  # its task counts changed too

    def _publish_changes(self) -> None:
        """Tasks first, so that a job's FINISHED follows its tasks' own; each event is
        seen by whoever may see its job."""
        now = self.clock()
        told: list[tuple[Event | Deferred, str, str | None]] = [
            (task_event(task, now), task.job_id, self._changed_jobs[task.job_id].owner)
            for task in self._changed_tasks]
        told += [(job_event(job), job.id, job.owner) for job in self._changed_jobs.values()]
        self.events.publish(told)

    def _complete(self, job_id: str) -> None:
        active = self.core.active[job_id]
        try:
            result = results.result_of(self.store, self.datasets, active.job, active.admitted)
        except results.ResultError as exc:
            log.warning("job %s has no result: %s", job_id, exc)
            self._carry_out(self.core.incomplete(job_id, str(exc), self.clock()))
            return
        self._carry_out(self.core.completed(job_id, result, self.clock()))

    # ----- streams (femto.streams, framework.engine.streams) ------------------

    def _appended(self, doc: dict[str, Any], start: int) -> None:
        """Tell the core the dataset's partitions from `start` are new (or that it closed)."""
        partitions = self._inputs_from(doc, start)
        self._carry_out(self.core.on_appended(doc["name"], start, partitions, is_closed(doc),
                                              self.clock()))

    def _publish(self, job_id: str, partitions: tuple[int, ...]) -> None:
        job = self.core.active[job_id].job
        assert job.output is not None  # a standing job is a transform
        outputs = []
        for partition in partitions:
            partial = self.store.get("partials", task_key(job_id, partition))
            assert partial is not None  # recorded before the core asks to publish it
            outputs.append((partition, results.output_blob(job_id, partition,
                                                           partial["attempt"]),
                            from_json_safe(partial["value"])))
        try:
            doc, start = streams.publish_outputs(self.datasets, job.output, job_id, outputs)
        except (Invalid, Conflict) as exc:
            log.warning("job %s cannot publish its output: %s", job_id, exc.message)
            self._carry_out(self.core.incomplete(
                job_id, f"publishing output dataset {job.output!r} failed: {exc.message}",
                self.clock()))
            return
        self._appended(doc, start)  # a standing job may read this one's output

    def _close_output(self, job_id: str) -> None:
        job = self.core.active[job_id].job
        assert job.output is not None
        doc = streams.close_output(self.datasets, job.output, job_id)
        if doc is not None:
            self._appended(doc, len(doc["partitions"]))

    def append_partition(self, name: str, body: bytes, index: int | None = None
                         ) -> tuple[dict[str, Any], bool]:
        """Append one partition (a .npy) to an open dataset (femto.streams.append); the
        dataset, and whether it was appended now (not by an earlier try with `index`)."""
        array = streams.parse_append(body)
        with self._acting():
            self._check_leading()
            doc, appended = streams.append(self.datasets, name, body, array, index)
            if appended:
                self._appended(doc, len(doc["partitions"]) - 1)
        return doc, appended

    def close_dataset(self, name: str) -> dict[str, Any]:
        """Close an open dataset: standing jobs reading it finish once they drain it."""
        with self._acting():
            self._check_leading()
            doc, closed = streams.close(self.datasets, name)
            if closed:
                self._appended(doc, len(doc["partitions"]))
        return doc

    def _reconcile_streams(self) -> None:
        """After a load: each standing job gets a task for every partition of its input
        lacking one (appended while no leader ran), and learns whether it is closed."""
        with self._acting():
            names = {a.admitted.spec.inputs[0] for a in self.core.active.values()
                     if a.standing}
            for name in sorted(names):
                doc = self.store.get("datasets", name)
                if doc is not None:
                    self._appended(doc, len(doc["partitions"]))

    def _infos(self, launch: Launch, mirrors: list[str]) -> list[dict[str, Any]]:
        offer = launch.offer
        executor = executor_info(self.config.executor, offer["agent_id"]["value"],
                                 self.core.framework_id or "", offer)
        return [
            task_info(
                task_id=t.task_id, name=t.name, offer=offer, cpus=t.cpus, mem=t.mem,
                executor=executor,
                payload=t.payload.model_copy(update={
                    "credential": credentials.issue(self.config.attempt_key, t.task_id),
                    "api_mirrors": mirrors,
                }),
            )
            for t in launch.tasks
        ]

    def _send_launch(self, offer_id: str, infos: list[dict[str, Any]], driver: Driver) -> None:
        try:
            driver.launchTasks([offer_id], infos, {"refuse_seconds": 1.0})
        except MesosError as exc:
            log.warning("launch into offer %s failed: %s", offer_id, exc)
            with self._acting():
                self._carry_out(self.core.unlaunch(
                    [info["task_id"]["value"] for info in infos], self.clock()))

    # ----- recovery -------------------------------------------------------

    def load(self) -> None:
        """Pick up every unfinished job from the store (after a restart or failover)."""
        with self.lock:
            now = self.clock()
            for state in (JobState.PENDING, JobState.RUNNING):
                for doc in self.store.find("jobs", state=state.value):
                    self._load(Job.from_doc(doc), now)
            log.info("loaded %d unfinished jobs", len(self.core.active))
            self._reconcile_streams()

    def _load(self, job: Job, now: float) -> None:
        tasks = sorted((Task.from_doc(d) for d in self.store.find("tasks", job_id=job.id)),
                       key=lambda t: t.partition)
        if job.spec.get("standing") and len(tasks) >= job.n_tasks \
                and [t.partition for t in tasks] == list(range(len(tasks))):
            # Its tasks are written before the job's count of them: a leader may have
            # stopped between the two.
            job.n_tasks = len(tasks)
        if len(tasks) != job.n_tasks:
            self._fail_unloadable(job, f"store holds {len(tasks)} of its tasks", now)
            return
        try:
            admitted = readmit(job.spec)
            inputs = [self.datasets.get(n) for n in admitted.spec.inputs]
        except SpecError as exc:
            self._fail_unloadable(job, f"this femto cannot run its spec: {exc}", now)
            return
        except NotFound as exc:
            self._fail_unloadable(job, exc.message, now)
            return
        # A partial stored before partials named their attempt names none (attempt 0).
        partials = {p["partition"]: p.get("attempt", 0)
                    for p in self.store.find("partials", job_id=job.id)}
        published = 0
        if admitted.spec.standing and job.output is not None:
            output = self.store.get("datasets", job.output)
            if output is not None and streams.writer(output) == job.id:
                published = len(output["partitions"])
        self.core.load(job, tasks, admitted, self._inputs(inputs), partials, now,
                       published=published)

    def _fail_unloadable(self, job: Job, reason: str, now: float) -> None:
        job.state, job.error, job.finished = JobState.FAILED, reason, now
        self.store.put("jobs", job.id, job.to_doc())

    def _inputs(self, docs: list[dict[str, Any]]) -> list[Input]:
        return [self._columns(doc) for doc in docs]

    def _inputs_from(self, doc: dict[str, Any], start: int) -> list[InputPartition]:
        return self._columns(doc)[start:]

    def _columns(self, doc: dict[str, Any]) -> InputColumns:
        return InputColumns(self.config.api_url, doc["name"], doc["dtype"],
                            self.datasets.refs(doc, self.config.api_url))

    # ----- users ----------------------------------------------------------

    def submit(self, body: Any, owner: str | None = None, *, workflow: str | None = None,
               step: str | None = None) -> tuple[dict[str, Any], bool]:
        """Accept a job spec from `owner` (as step `step` of `workflow`, if given); returns
        (job view, created). Idempotent for a given id and owner."""
        admitted = admit(body, self.config.limits)
        # Outside the engine lock, as little as can be: at 200 jobs/s the lock is busy most
        # of the time, and a POST's latency is mostly its wait for it. An id made here is
        # new (its insert below still fails on a clash), so only a client's is looked up.
        job_id = admitted.spec.id or str(uuid.uuid4())
        with self._acting():
            self._check_leading()
            existing = self._job(job_id) if admitted.spec.id else None
            if existing is not None:
                if existing.fingerprint != admitted.fingerprint or existing.owner != owner:
                    raise Conflict(
                        f"job {job_id} exists with another spec", [{"loc": "id", "msg": "taken"}]
                    )
                return job_view(existing), False
            inputs = []
            for i, name in enumerate(admitted.spec.inputs):
                doc = self.store.get("datasets", name)
                if doc is None:
                    raise NotFound(
                        f"input dataset {name!r} not found",
                        [{"loc": f"inputs.{i}", "msg": "unknown dataset"}],
                    )
                inputs.append(doc)
            check_inputs(admitted, inputs)
            now = self.clock()
            n_tasks = len(inputs[0]["partitions"])
            job = Job(
                id=job_id, name=admitted.spec.name, operation=admitted.spec.operation,
                spec=admitted.document, fingerprint=admitted.fingerprint, created=now,
                n_tasks=n_tasks, output=self._output_name(admitted, job_id), owner=owner,
                workflow=workflow, step=step,
            )
            tasks = [Task(job_id=job_id, partition=i, waiting_since=now) for i in range(n_tasks)]
            # Tasks first: the job document is what commits the submission.
            self.store.put_many("tasks", {t.key: t.to_doc() for t in tasks})
            try:
                self.store.insert("jobs", job_id, job.to_doc())
            except KeyConflict as exc:
                raise Conflict(f"job {job_id} exists", [{"loc": "id"}]) from exc
            self._carry_out(self.core.admit(job, tasks, admitted, self._inputs(inputs), now))
            self._tell(tuple(tasks), (job,))  # written above, not by the core
            if admitted.spec.standing:  # its input may be closed already
                self._appended(inputs[0], n_tasks)
            log.info("job %s (%s) submitted with %d tasks", job_id, job.operation, n_tasks)
            return job_view(job), True

    def _output_name(self, admitted: Admitted, job_id: str) -> str | None:
        """The dataset a transform writes (admission gives a query none)."""
        if not admitted.is_transform:
            return None
        output = admitted.spec.output or f"{admitted.spec.name}-{job_id[:8]}"
        check_name(output)  # a long job name with the id appended may be too long
        if self.store.get("datasets", output) is not None or self.core.output_taken(output):
            raise Conflict(f"output dataset {output!r} exists", [{"loc": "output"}])
        return output

    def cancel(self, job_id: str, owner: str | None = None) -> dict[str, Any]:
        with self._acting():
            self._check_leading()
            active = self.core.active.get(job_id)
            if active is None or active.job.finished is not None or (
                    owner is not None and active.job.owner != owner):
                return self.job(job_id, owner)  # already over (or not theirs: NotFound)
            self._carry_out(self.core.cancel(job_id, self.clock()))
            return job_view(active.job)

    def reset_delay(self, job_id: str, owner: str | None = None) -> dict[str, Any]:
        """End the retry backoff of a job's tasks; how many were in one."""
        with self._acting():
            self._check_leading()
            self.job(job_id, owner)  # NotFound unless it exists and is the owner's
            reset = 0
            if job_id in self.core.active:
                reset, instructions = self.core.reset_delay(job_id, self.clock())
                self._carry_out(instructions)
            return {"job": job_id, "reset": reset}

    def delete_dataset(self, name: str) -> None:
        """Delete a dataset no unfinished job reads or writes: NotFound if there is none
        of that name, Conflict while a job uses it."""
        with self._acting():
            self._check_leading()
            self.datasets.get(name)
            if name in self.core.busy_datasets():
                raise Conflict(f"dataset {name!r} is in use by a running job",
                               [{"loc": "name", "msg": "read or written by a running job"}])
            self.datasets.delete(name)

    def accept_output(
        self, task_id: str, job_id: str, partition: int, body: bytes
    ) -> dict[str, Any]:
        """Keep a transform's output partition, uploaded by the executor running attempt
        `task_id` (from its credential): only that partition's current, live attempt. Only
        the blob: the partition counts once that attempt's TASK_FINISHED says so."""
        with self.lock:
            self._check_leading()
            active = self.core.active.get(job_id)
            if active is None or active.job.output is None \
                    or not 0 <= partition < active.job.n_tasks:
                raise NotFound(f"job {job_id} expects no output for partition {partition}")
            task = active.tasks[partition]
            current = task.current
            # `current` is the attempt of a launching or running task, if any.
            if current is None or task.mesos_id(current) != task_id or current.ended is not None:
                raise Forbidden(
                    f"attempt {task_id} may not deliver partition {partition} of job {job_id}: "
                    "it is not that partition's live attempt",
                    [{"loc": "Authorization", "msg": "not the live attempt"}])
            attempt = current.n
        try:
            array = load_npy(body)
        except ValueError as exc:
            raise Invalid(f"output is not a valid .npy: {exc}") from exc
        # Keyed by attempt too: a duplicate attempt's upload never replaces the blob of
        # the attempt whose partial counts.
        self.store.put_blob(results.output_blob(job_id, partition, attempt), body)
        return {"length": len(array), "dtype": array.dtype.str, "shape": list(array.shape)}

    # ----- Mesos ----------------------------------------------------------

    def attach(self, driver: Driver) -> None:
        self.outbox.attach(driver)

    def on_subscribed(self, framework_id: str) -> None:
        with self._acting():
            self._carry_out(self.core.on_subscribed(framework_id, self.clock()))

    def on_offers(self, offers: list[dict[str, Any]]) -> None:
        with self._acting():
            self._carry_out(self.core.on_offers(offers, self.clock()))

    def on_status(self, status: dict[str, Any]) -> None:
        """One TaskStatus from Mesos. Returns once the change is stored, so the
        driver acknowledges only what femto has recorded."""
        with self._acting():
            self._carry_out(self.core.on_status(status, self.clock()))

    def on_message(self, data: bytes) -> None:
        with self.lock:
            self._carry_out(self.core.on_message(data))

    def on_executor_lost(self, agent_id: str) -> None:
        with self.lock:
            self.core.on_executor_lost(agent_id)

    def on_agent_lost(self, agent_id: str) -> None:
        with self.lock:
            self.core.on_agent_lost(agent_id)

    def tick(self) -> None:
        """Timeouts, repeated kills, reconciliation and revives; call every ~0.5 s."""
        with self._acting():
            self._carry_out(self.core.tick(self.clock()))


def _decline(offer_ids: list[dict[str, Any]], seconds: float, driver: Driver) -> None:
    driver.declineOffer(offer_ids, {"refuse_seconds": seconds})


def _kill(task_id: str, agent_id: str | None, driver: Driver) -> None:
    driver.killTask({"value": task_id}, {"value": agent_id} if agent_id else None)


def _reconcile(tasks: tuple[tuple[str, str | None], ...], driver: Driver) -> None:
    driver.reconcileTasks([
        {"task_id": {"value": task_id}, **({"agent_id": {"value": agent}} if agent else {})}
        for task_id, agent in tasks
    ])
