"""The core's offer rules, pure: which pending tasks go into which offers, what is
declined, and when to revive or suppress offers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from femto import placement
from femto.engine.config import ActiveJob, hosts_of
from femto.engine.instructions import Decline, Launch, Revive, Suppress, TaskLaunch
from femto.jobs.wire import OutputRef, PartitionRef, TaskPayload
from femto.launch import offer_scalar
from femto.lifecycle import JobState, TaskState, job_transition
from femto.model import Attempt, Task, parse_mesos_task_id
from femto.sandbox import agent_url

if TYPE_CHECKING:
    from femto.engine.core import Core

# Revives are debounced: a burst of submissions costs the master one call.
REVIVE_INTERVAL = 0.5


def take_offers(core: Core, offers: list[dict[str, Any]], now: float) -> None:
    core.counters["offers_received"] += len(offers)
    slots = [_slot(core, offer) for offer in offers]
    for slot in slots:
        core.room.observe(slot)
    if not core.pending:
        _decline(core, offers, core.config.idle_decline_seconds)
        core.refused_idle = True
        # Suppressed only once no job is left: while jobs come and go, suppressing
        # between them cost a SUPPRESS and a REVIVE per job, more than the
        # declines of the (batched) offers it saves.
        if not core.active and not core.suppressed:
            core.calls.append(Suppress())
            core.suppressed = True
        return
    by_id = {o["id"]["value"]: o for o in offers}
    # Lazy: placement stops early once the offers are full. Tasks in their
    # retry backoff already asked for a revive when it ends.
    candidates = (_candidate(core, t) for t in core.pending if t.not_before <= now)
    plan = placement.place(
        slots, candidates, now=now, locality_wait=core.config.locality_wait,
        executor=executor_cost(core),
    )
    if plan.waiting_for_locality:
        core.revive_at = min(core.revive_at or now + 0.5, now + 0.5)
    launches = [Launch(by_id[offer_id], _launch(core, tasks, by_id[offer_id], now))
                for offer_id, tasks in plan.by_offer.items()]
    _decline(core, [o for oid, o in by_id.items() if oid not in plan.by_offer],
             core.config.decline_seconds)
    core.counters["offers_used"] += len(launches)
    for launch in launches:
        core.calls.append(launch)
        core.counters["tasks_launched"] += len(launch.tasks)


def executor_cost(core: Core) -> placement.ExecutorCost:
    return placement.ExecutorCost(core.config.executor.cpus, core.config.executor.mem)


def _slot(core: Core, offer: dict[str, Any]) -> placement.OfferSlot:
    cpus, _ = offer_scalar(offer, "cpus")
    mem, _ = offer_scalar(offer, "mem")
    agent = offer["agent_id"]["value"]
    url = agent_url(offer)
    if url is not None:
        core.agent_urls[agent] = url
    return placement.OfferSlot(
        offer["id"]["value"], agent, offer.get("hostname", ""), cpus, mem,
        agent in core.executors,
    )


def _candidate(core: Core, task: Task) -> placement.Candidate[Task]:
    active = core.active[task.job_id]
    resources = active.admitted.spec.resources
    return placement.Candidate(
        key=task, cpus=resources.cpus, mem=resources.mem,
        preferred_hosts=hosts_of(active.inputs, task.partition),
        avoid_agents=task.avoid_agents(), waiting_since=task.waiting_since,
    )


def _launch(core: Core, tasks: list[Task], offer: dict[str, Any], now: float
            ) -> tuple[TaskLaunch, ...]:
    agent_id = offer["agent_id"]["value"]
    launches = []
    for task in tasks:
        del core.pending[task]
        active = core.active[task.job_id]
        job = active.job
        attempt = Attempt(n=len(task.attempts) + 1, agent_id=agent_id,
                          host=offer.get("hostname", ""), launched=now)
        task.attempts += (attempt,)
        task.progress = 0.0
        core.set_task(task, TaskState.LAUNCHING, now)
        job.attempts += 1
        if job.state is JobState.PENDING:
            job.state = job_transition(job.state, JobState.RUNNING)
            job.started = now
            core.dirty_jobs[job.id] = job
        resources = active.admitted.spec.resources
        launches.append(TaskLaunch(
            task_id=task.mesos_id(attempt), name=f"femto {job.name} #{task.partition}",
            cpus=resources.cpus, mem=resources.mem,
            payload=_payload(core, active, task, attempt),
        ))
    core.executors.add(agent_id)
    return tuple(launches)


def _payload(core: Core, active: ActiveJob, task: Task, attempt: Attempt) -> TaskPayload:
    first = active.inputs[0]
    need = active.admitted.left_context()
    left: list[PartitionRef] = []
    index = task.partition - 1
    while need > 0 and index >= 0:
        left.insert(0, first[index].ref)
        need -= first[index].length
        index -= 1
    job = active.job
    output = None
    if job.output is not None:
        output = OutputRef(
            url=f"{core.config.api_url}/executor/jobs/{job.id}/outputs/{task.partition}")
    return TaskPayload(
        job_id=job.id, partition=task.partition, attempt=attempt.n, operation=job.operation,
        package=active.admitted.package, params=active.admitted.spec.params,
        inputs=[parts[task.partition].ref for parts in active.inputs], left=left,
        output=output,
    )


def unlaunch(core: Core, task_ids: list[str], now: float) -> None:
    """Undo launches the master never took: back to pending, uncharged."""
    for task_id in task_ids:
        parsed = parse_mesos_task_id(task_id)
        assert parsed is not None
        active = core.active.get(parsed[0])
        task = active.tasks[parsed[1]] if active is not None else None
        if task is None or task.state is not TaskState.LAUNCHING \
                or len(task.attempts) != parsed[2]:
            continue  # its job ended meanwhile
        assert active is not None
        core.counters["tasks_launched"] -= 1
        task.attempts = task.attempts[:-1]
        active.job.attempts -= 1
        core.set_task(task, TaskState.PENDING, now)
        core.pending[task] = None


def want_offers(core: Core, now: float) -> None:
    if not core.pending:
        return
    # Idle offers were declined with a long filter since the last REVIVE: none will
    # come before the next one, so waiting out the interval only delays the work.
    if core.suppressed or core.refused_idle or now - core.last_revive >= REVIVE_INTERVAL:
        core.calls.append(Revive())
        core.suppressed, core.refused_idle, core.last_revive = False, False, now
    else:
        due = core.last_revive + REVIVE_INTERVAL
        core.revive_at = min(core.revive_at or due, due)


def _decline(core: Core, offers: list[dict[str, Any]], seconds: float) -> None:
    if offers:
        core.calls.append(Decline(tuple(o["id"] for o in offers), seconds))
        core.counters["offers_declined"] += len(offers)


def explain_waits(core: Core, now: float) -> None:
    """Say on each job whose tasks no agent seen can hold, once one of them has waited
    past the locality wait (by then every agent has had its chance to offer). The job
    stays PENDING: a bigger agent may join, as on any Mesos cluster."""
    executor = executor_cost(core)
    for active in core.active.values():
        job = active.job
        reason = None
        if job.finished is None and job.counts.get(TaskState.PENDING, 0):
            resources = active.admitted.spec.resources
            reason = core.room.unplaceable(resources.cpus, resources.mem, executor)
            # No task waits from before its job was created: until the locality wait has
            # passed since then, none has waited past it, and the tasks (10^5 in a long
            # queue) are not walked on every tick.
            if reason is not None and (
                now - job.created <= core.config.locality_wait or not any(
                    t.state is TaskState.PENDING and t.not_before <= now
                    and now - t.waiting_since > core.config.locality_wait
                    for t in active.tasks
                )):
                reason = None
        job.waiting = reason
