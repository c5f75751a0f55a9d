"""The engine's rules, pure: events in, instructions out (framework.engine.instructions).

The core holds every unfinished job in memory: its tasks and attempts, the pending queue,
launches being watched, kills until confirmed, the reconciliation round and the counters.
Each event takes the time as an argument and returns what the shell must do, writes
before Mesos calls. It reads no store (what it must know of stored partials it is given
on load) and calls no driver; the shell (framework.engine.shell) does both."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from femto import placement
from femto.engine import offers, streams, updates
from femto.engine.admission import Admitted
from femto.engine.config import ActiveJob, EngineConfig, Input, InputPartition
from femto.engine.instructions import (
    CloseOutput,
    DeleteOutputs,
    ForgetPartials,
    Instruction,
    Kill,
    Persist,
    Progressed,
    Reconcile,
    RememberFramework,
)
from femto.engine.stats import RUN_BUCKETS, WAIT_BUCKETS, Durations
from femto.errors import Unavailable
from femto.jobs.wire import parse_progress
from femto.lifecycle import (
    TERMINAL_TASK_STATES,
    JobState,
    TaskState,
    job_transition,
    task_transition,
)
from femto.model import Attempt, Job, Task, parse_mesos_task_id
from femto.retries import Fault, decide
from mesosapi import taskstates as mesos

log = logging.getLogger(__name__)


class Halted(Unavailable):
    """This engine's scheduler no longer leads; nothing it does may take effect.

    Deposition can land in the middle of an action; an API request caught by it gets
    the same 503 as one that arrived after it."""


@dataclass(slots=True)
class KillOrder:
    agent_id: str | None
    sent: float | None = None


@dataclass(slots=True)
class Reconciliation:
    outstanding: dict[str, str | None]  # mesos task id -> agent id
    backoff: float
    next_at: float


class Core:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.framework_id: str | None = None
        self.active: dict[str, ActiveJob] = {}
        # Ordered sets of tasks (keyed by the task itself, by identity): a queued task
        # costs the queue one entry and no key of its own. Insertion order is launch
        # priority.
        self.pending: dict[Task, None] = {}
        # Watched for the launch timeout, from when this engine began to watch: a launch
        # recovered after an outage gets the whole timeout to be heard of again.
        self.launching: dict[Task, float] = {}
        self.kills: dict[str, KillOrder] = {}
        self.executors: set[str] = set()  # agents where femto's executor runs
        self.room = placement.AgentRoom()  # what agents have offered: tasks none can hold
        self.agent_urls: dict[str, str] = {}  # agent id -> base URL, from offers (femto logs)
        self.suppressed = False
        self.refused_idle = False  # offers declined for idle_decline_seconds since a REVIVE
        self.last_revive = -offers.REVIVE_INTERVAL
        self.revive_at: float | None = None
        self.reconciliation: Reconciliation | None = None
        self.next_implicit_reconcile = 0.0
        self.halted = False  # deposed: no launches, no writes, no acknowledgements
        self.counters: dict[str, int] = {
            "tasks_launched": 0, "tasks_finished": 0, "tasks_failed_attempts": 0,
            "offers_received": 0, "offers_declined": 0, "offers_used": 0,
        }
        self.task_run = Durations(RUN_BUCKETS)  # running to ended, per attempt
        self.queue_wait = Durations(WAIT_BUCKETS)  # waiting (submitted or retried) to running
        self.dirty_tasks: dict[Task, None] = {}
        self.dirty_jobs: dict[str, Job] = {}
        self.writes: list[Instruction] = []
        self.calls: list[Instruction] = []

    @property
    def jobs(self) -> dict[str, Job]:
        return {job_id: a.job for job_id, a in self.active.items()}

    def depose(self) -> None:
        """Another scheduler leads now: no event of this core has an effect any more."""
        self.halted = True

    def _check_leading(self) -> None:
        if self.halted:
            raise Halted("this scheduler is not the leader; retry against the leader")

    def _done(self, *, repeat_kills: bool = False, now: float = 0.0) -> list[Instruction]:
        """What this event asks for: its writes, the tasks and jobs it changed, then its
        Mesos calls (kills last: ordered ones, and with `repeat_kills` overdue ones)."""
        for task_id, order in self.kills.items():
            if order.sent is not None and (
                    not repeat_kills or now - order.sent < self.config.kill_interval):
                continue
            self.calls.append(Kill(task_id, order.agent_id))
            order.sent = now
        out = self.writes
        if self.dirty_tasks or self.dirty_jobs:
            out.append(Persist(tuple(self.dirty_tasks),
                               tuple(self.dirty_jobs.values())))
        out += self.calls
        self.dirty_tasks, self.dirty_jobs, self.writes, self.calls = {}, {}, [], []
        return out

    # ----- jobs in and out ------------------------------------------------

    def load(self, job: Job, tasks: list[Task], admitted: Admitted,
             inputs: list[Input], partials: dict[int, int], now: float,
             *, published: int = 0) -> None:
        """Take a job the store holds: its tasks and the partials already recorded (and of
        a standing job, how many outputs its output dataset holds)."""
        self.active[job.id] = ActiveJob(job, tasks, admitted, inputs, dict(partials),
                                        standing=admitted.spec.standing, published=published)
        job.counts, job.attempts = {}, 0
        for task in tasks:
            job.counts[task.state] = job.counts.get(task.state, 0) + 1
            job.attempts += len(task.attempts)
            if task.state is TaskState.PENDING:
                self.pending[task] = None
            elif task.state is TaskState.LAUNCHING:
                self.launching[task] = now

    def admit(self, job: Job, tasks: list[Task], admitted: Admitted,
              inputs: list[Input], now: float) -> list[Instruction]:
        """A job just submitted (and stored): its tasks want offers."""
        self._check_leading()
        self.load(job, tasks, admitted, inputs, {}, now)
        offers.want_offers(self, now)
        return self._done(now=now)

    def on_appended(self, dataset: str, start: int, partitions: list[InputPartition],
                    closed: bool, now: float) -> list[Instruction]:
        """Partitions were appended to `dataset` (stored) from index `start`, or it was
        closed: the standing jobs reading it learn of them (framework.engine.streams)."""
        self._check_leading()
        streams.on_appended(self, dataset, start, partitions, closed, now)
        return self._done(now=now)

    def output_taken(self, name: str) -> bool:
        return any(a.job.output == name for a in self.active.values())

    def busy_datasets(self) -> set[str]:
        """Datasets an unfinished job reads or writes."""
        names: set[str] = set()
        for a in self.active.values():
            if a.job.finished is None:
                names.update(a.admitted.spec.inputs)
                if a.job.output is not None:
                    names.add(a.job.output)
        return names

    def cancel(self, job_id: str, now: float) -> list[Instruction]:
        self._check_leading()
        self.end_job(self.active[job_id], JobState.CANCELLED, now, error="cancelled by user")
        return self._done(now=now)

    def reset_delay(self, job_id: str, now: float) -> tuple[int, list[Instruction]]:
        """End the retry backoff of the job's waiting tasks (Marathon's DELETE
        /v2/queue/{app}/delay): they want offers now. How many were in backoff."""
        self._check_leading()
        reset = 0
        for task in self.active[job_id].tasks:
            if task.state is TaskState.PENDING and task.not_before > now:
                task.not_before = task.waiting_since = now
                self.dirty_tasks[task] = None
                reset += 1
        if reset:
            offers.want_offers(self, now)
        return reset, self._done(now=now)

    def completed(self, job_id: str, result: dict[str, Any], now: float) -> list[Instruction]:
        """The shell reduced the job's partials (after Complete)."""
        self.end_job(self.active[job_id], JobState.FINISHED, now, result=result)
        return self._done(now=now)

    def incomplete(self, job_id: str, reason: str, now: float) -> list[Instruction]:
        """The shell could not reduce the job's partials (after Complete)."""
        self.end_job(self.active[job_id], JobState.FAILED, now, error=reason)
        return self._done(now=now)

    # ----- Mesos ----------------------------------------------------------

    def on_subscribed(self, framework_id: str, now: float) -> list[Instruction]:
        if self.halted:
            return []
        self.framework_id = framework_id
        self.writes.append(RememberFramework(framework_id))
        self.suppressed = False
        self.executors.clear()  # re-learnt from offers and updates
        self.room = placement.AgentRoom()
        outstanding: dict[str, str | None] = {}
        for a in self.active.values():
            for task in a.tasks:
                attempt = task.current
                if attempt is not None:
                    outstanding[task.mesos_id(attempt)] = attempt.agent_id
        for task_id, order in self.kills.items():
            outstanding[task_id] = order.agent_id
        self.reconciliation = Reconciliation(outstanding, 1.0, 0.0)
        self.next_implicit_reconcile = now
        self._reconcile(now)
        offers.want_offers(self, now)
        return self._done(now=now)

    def on_offers(self, offered: list[dict[str, Any]], now: float) -> list[Instruction]:
        if self.halted:
            return []
        offers.take_offers(self, offered, now)
        return self._done(now=now)

    def unlaunch(self, task_ids: list[str], now: float) -> list[Instruction]:
        """The master never took these launches (the call failed)."""
        offers.unlaunch(self, task_ids, now)
        offers.want_offers(self, now)
        return self._done(now=now)

    def on_status(self, status: dict[str, Any], now: float) -> list[Instruction]:
        """One TaskStatus. The shell acknowledges it once the instructions are carried out."""
        if self.halted:
            raise Halted("not acknowledged: a leader will receive it again")
        task_id = status["task_id"]["value"]
        state = status["state"]
        if self.reconciliation:
            self.reconciliation.outstanding.pop(task_id, None)
        if state not in mesos.LIVE:
            self.kills.pop(task_id, None)
        updates.apply(self, status, now)
        return self._done(now=now)

    def retry_or_fail(self, active: ActiveJob, task: Task, attempt: Attempt, fault: Fault,
                      message: str, now: float) -> None:
        attempt.fault = fault.value
        attempt.message = attempt.message or message
        if fault is Fault.WORK:
            task.charged += 1
        else:
            task.infra += 1
        decision = decide(fault, task.charged, task.infra, active.admitted.spec.max_retries,
                          self.config.retry)
        if decision.retry:
            task.not_before = now + decision.delay
            task.waiting_since = task.not_before
            self.set_task(task, TaskState.PENDING, now)
            self.pending[task] = None
            self.revive_at = min(self.revive_at or task.not_before, task.not_before)
            log.info("task %s retries in %.1fs after %s failure: %s",
                     task.key, decision.delay, fault.value, message)
            return
        self.set_task(task, TaskState.FAILED, now)
        self.end_job(
            active, JobState.FAILED, now,
            error=f"partition {task.partition} {decision.reason}; last error: {message}",
        )

    def end_job(self, active: ActiveJob, state: JobState, now: float, *,
                error: str | None = None, result: dict[str, Any] | None = None) -> None:
        job = active.job
        for task in active.tasks:
            if task.state in TERMINAL_TASK_STATES:
                continue
            attempt = task.current
            if attempt is not None:
                self.order_kill(task.mesos_id(attempt), attempt.agent_id)
            self.pending.pop(task, None)
            self.set_task(task, TaskState.KILLED, now)
        job.state = job_transition(job.state, state)
        job.finished, job.error, job.result = now, error, result
        job.waiting = None
        self.dirty_jobs[job.id] = job
        if job.output is not None:
            # The dataset keeps the blob of the attempt each partial names; others go.
            kept = streams.kept_outputs(active, state)
            stale = tuple((t.partition, a.n) for t in active.tasks for a in t.attempts
                          if kept.get(t.partition) != a.n)
            if stale:
                self.writes.append(DeleteOutputs(job.id, stale))
            if active.standing:
                self.writes.append(CloseOutput(job.id))
        log.info("job %s %s%s", job.id, state.value, f": {error}" if error else "")

    def on_message(self, data: bytes) -> list[Instruction]:
        """A framework message: progress of an attempt (anything else is ignored)."""
        try:
            message = parse_progress(data)
        except ValueError:
            log.debug("ignored a framework message that is not progress: %r", data[:200])
            return []
        parsed = parse_mesos_task_id(message.task_id)
        active = self.active.get(parsed[0]) if parsed else None
        if not (parsed and active and parsed[1] < len(active.tasks)):
            return []
        task = active.tasks[parsed[1]]
        current = task.current
        if current is None or current.n != parsed[2]:
            return []  # a late word from an attempt that is over
        task.progress = message.progress
        return [Progressed(task.job_id, task.partition, current.n, message.progress)]

    def on_executor_lost(self, agent_id: str) -> None:
        self.executors.discard(agent_id)

    def on_agent_lost(self, agent_id: str) -> None:
        self.executors.discard(agent_id)
        self.room.forget(agent_id)

    # ----- time -----------------------------------------------------------

    def tick(self, now: float) -> list[Instruction]:
        """Timeouts, repeated kills, reconciliation and revives; due every ~0.5 s."""
        if self.halted:
            return []
        for task, since in list(self.launching.items()):
            if now - since > self.config.launch_timeout:
                attempt = task.attempts[-1]
                self.order_kill(task.mesos_id(attempt), attempt.agent_id)
                attempt.ended, attempt.state = now, "TIMED_OUT"
                self.retry_or_fail(self.active[task.job_id], task, attempt, Fault.INFRA,
                                   f"not running after {self.config.launch_timeout}s", now)
        for job_id in [i for i, a in self.active.items() if a.job.finished is not None]:
            if job_id not in self.dirty_jobs:  # ended by this tick: forgotten on the next
                del self.active[job_id]
                self.writes.append(ForgetPartials(job_id))
        offers.explain_waits(self, now)
        if self.revive_at is not None and now >= self.revive_at:
            self.revive_at = None
            offers.want_offers(self, now)
        self._reconcile(now)
        return self._done(repeat_kills=True, now=now)

    def _reconcile(self, now: float) -> None:
        rec = self.reconciliation
        if rec is None:
            return
        if rec.outstanding and now >= rec.next_at:
            self.calls.append(Reconcile(tuple(rec.outstanding.items())))
            rec.next_at = now + rec.backoff
            rec.backoff = min(rec.backoff * 2, self.config.reconcile_backoff_max)
        elif not rec.outstanding and now >= self.next_implicit_reconcile:
            # Implicit: the master reports every task it knows; ones femto
            # does not run are killed in on_status.
            self.calls.append(Reconcile(()))
            self.next_implicit_reconcile = now + self.config.implicit_reconcile_interval

    # ----- helpers --------------------------------------------------------

    def set_task(self, task: Task, state: TaskState, now: float) -> None:
        job = self.active[task.job_id].job
        job.counts[task.state] -= 1
        task.state = task_transition(task.state, state)
        job.counts[state] = job.counts.get(state, 0) + 1
        self.dirty_tasks[task] = None
        if state is TaskState.LAUNCHING:
            self.launching[task] = now
        else:
            self.launching.pop(task, None)

    def order_kill(self, task_id: str, agent_id: str | None) -> None:
        if task_id not in self.kills:
            self.kills[task_id] = KillOrder(agent_id)

