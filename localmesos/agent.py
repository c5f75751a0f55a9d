"""One agent: its resources, executor processes, built-in command tasks and executor API."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from localmesos import processes
from localmesos.background import Background
from localmesos.environment import (
    AgentSettings,
    command_task_environment,
    executor_environment,
    shutdown_grace_of,
)
from localmesos.fetcher import FetchError, fetch
from localmesos.files import Files
from localmesos.lifecycles import EXECUTOR_TRANSITIONS, ExecutorState, check_transition
from localmesos.protocol import CallRejected, describe_exit, new_uuid, now, wait_status
from localmesos.records import AgentRecords, command_executor_info
from localmesos.resources import Resources, allocation_role
from localmesos.streams import EventStream
from localmesos.watchdog import Watchdog
from mesosapi.taskstates import TERMINAL, TaskState, task_state

log = logging.getLogger(__name__)


class MasterLink(Protocol):
    """What an agent reports to its master."""

    def status_update(
        self, agent: Agent, framework_id: str, status: dict[str, Any], from_executor: bool
    ) -> None: ...

    def executor_terminated(
        self, agent: Agent, framework_id: str, executor_id: str, status: int
    ) -> None: ...

    def executor_message(
        self, agent: Agent, framework_id: str, executor_id: str, data: str
    ) -> None: ...

    def resources_released(self, agent: Agent) -> None: ...


@dataclass(eq=False)
class Executor:
    framework_id: str
    executor_id: str
    info: dict[str, Any]
    framework_info: dict[str, Any]
    resources: Resources
    directory: Path
    container_id: str
    grace: float  # its shutdown grace period (ExecutorInfo's, else the agent's)
    state: ExecutorState = ExecutorState.LAUNCHING
    process: asyncio.subprocess.Process | None = None
    stream: EventStream | None = None
    queued: list[dict[str, Any]] = field(default_factory=list)  # events until SUBSCRIBE
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # live TaskInfos by id
    # Per task, the uuids of the updates it sent (True: the terminal one), so that a retry
    # of one, or one re-sent on re-subscription, is dropped. As the status update manager's
    # streams, a task's record ends once its terminal update is acknowledged: the agent's
    # memory follows the live tasks, not every update it ever saw.
    received: dict[str, dict[str, bool]] = field(default_factory=dict)

    def has_received(self, status: dict[str, Any]) -> bool:
        task = self.received.get(status["task_id"]["value"], {})
        return status.get("uuid") in task
    shutting_down: bool = False

    def transition(self, new: ExecutorState) -> None:
        check_transition(EXECUTOR_TRANSITIONS, self.state, new)
        self.state = new

    def deliver(self, event: dict[str, Any]) -> None:
        if self.state is ExecutorState.RUNNING and self.stream is not None:
            self.stream.send(event)
        else:
            self.queued.append(event)


@dataclass(eq=False)
class CommandTask:
    """A plain command task, run by the agent's built-in command executor."""

    framework_id: str
    task: dict[str, Any]
    directory: Path
    grace: float
    framework_info: dict[str, Any]
    process: asyncio.subprocess.Process | None = None
    killed: bool = False

    @property
    def reports_killing(self) -> bool:
        """The framework has the TASK_KILLING_STATE capability (mesos.proto)."""
        capabilities = self.framework_info.get("capabilities", [])
        return any(c.get("type") == "TASK_KILLING_STATE" for c in capabilities)

    @property
    def role(self) -> str:
        """The role the task's resources are allocated to (MESOS_ALLOCATION_ROLE)."""
        roles = self.framework_info.get("roles") or [self.framework_info.get("role", "*")]
        return allocation_role(self.task.get("resources"), str(roles[0]))


class Agent:
    def __init__(
        self,
        master: MasterLink,
        *,
        index: int,
        agent_id: str,
        resources: Resources,
        work_dir: Path,
        shutdown_grace: float,
        watchdog: Watchdog,
        executor_environment_variables: dict[str, str] | None = None,
    ) -> None:
        self.master = master
        self.watchdog = watchdog
        self.index = index
        self.id = agent_id
        self.hostname = f"agent-{index}"
        self.total = resources
        self.attributes = {"rack": f"rack-{index}", "zone": "local"}
        self.port = 0  # set once its executor API listens
        self.registered_time = now()
        self.work_dir = work_dir / "agents" / agent_id
        self.shutdown_grace = shutdown_grace
        self.executor_environment_variables = dict(executor_environment_variables or {})
        self.executors: dict[tuple[str, str], Executor] = {}
        self.commands: dict[tuple[str, str], CommandTask] = {}
        self.task_resources: dict[tuple[str, str], Resources] = {}
        # Kept as running sums per framework id: the master reads them on every allocation,
        # and summing thousands of tasks each time made allocation the cluster's hot spot.
        self.used_by: dict[str, Resources] = {}
        # While its connection to the master is broken, status updates wait here (its
        # status update manager) and go out in order when it re-registers.
        self.connected = True
        self.held: list[tuple[str, dict[str, Any], bool]] = []
        self.records = AgentRecords()
        self._background = Background(f"agent {agent_id}")
        self.files = Files()  # the sandboxes, served on /files/*

    # ------------------------------------------------------------------ accounting

    @property
    def used(self) -> Resources:
        total = Resources()
        for resources in self.used_by.values():
            total = total + resources
        return total

    def _hold(self, framework_id: str, resources: Resources) -> None:
        self.used_by[framework_id] = self.used_by.get(framework_id, Resources()) + resources

    def _free(self, framework_id: str, resources: Resources) -> None:
        self.used_by[framework_id] = self.used_by[framework_id] - resources

    def _hold_task(self, framework_id: str, task_id: str, resources: Resources) -> None:
        self._free_task(framework_id, task_id)
        self.task_resources[(framework_id, task_id)] = resources
        self._hold(framework_id, resources)

    def _free_task(self, framework_id: str, task_id: str) -> bool:
        resources = self.task_resources.pop((framework_id, task_id), None)
        if resources is None:
            return False
        self._free(framework_id, resources)
        return True

    def info(self) -> dict[str, Any]:
        """AgentInfo as protobuf JSON."""
        return {
            "id": {"value": self.id},
            "hostname": self.hostname,
            "port": self.port,
            "resources": self.total.to_proto(),
            "attributes": [
                {"name": k, "type": "TEXT", "text": {"value": v}}
                for k, v in self.attributes.items()
            ],
        }

    def has_executor(self, framework_id: str, executor_id: str) -> bool:
        return (framework_id, executor_id) in self.executors

    def executor_ids(self, framework_id: str) -> list[str]:
        return [eid for (fid, eid) in self.executors if fid == framework_id]

    # ------------------------------------------------------------------ launching

    def launch(
        self,
        framework_info: dict[str, Any],
        tasks: list[dict[str, Any]],
        executor_info: dict[str, Any] | None,
        executor_resources: Resources,
        *,
        group: bool,
    ) -> None:
        """Starts `tasks` (already validated and accounted by the master)."""
        framework_id = framework_info["id"]["value"]
        for task in tasks:
            self._hold_task(
                framework_id, task["task_id"]["value"], Resources.parse(task.get("resources"))
            )
        if executor_info is None:
            for task in tasks:
                self._start_command(framework_info, task)
            return
        executor = self._executor_for(framework_info, executor_info, executor_resources)
        for task in tasks:
            executor.tasks[task["task_id"]["value"]] = task
            self.records.task_launched(framework_id, executor.executor_id, task)
        if group:
            executor.deliver(
                {"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": tasks}}}
            )
        else:
            for task in tasks:
                executor.deliver({"type": "LAUNCH", "launch": {"task": task}})

    def _executor_for(
        self, framework_info: dict[str, Any], info: dict[str, Any], resources: Resources
    ) -> Executor:
        framework_id = framework_info["id"]["value"]
        executor_id = info["executor_id"]["value"]
        existing = self.executors.get((framework_id, executor_id))
        if existing is not None:
            return existing
        container_id = str(uuid.uuid4())
        directory = (
            self.work_dir
            / "frameworks"
            / framework_id
            / "executors"
            / executor_id
            / "runs"
            / container_id
        )
        info = {**info, "framework_id": {"value": framework_id}}
        grace = shutdown_grace_of(info, self.shutdown_grace)
        self.files.attach_executor(directory, framework_id, executor_id)
        executor = Executor(
            framework_id, executor_id, info, framework_info, resources, directory, container_id,
            grace,
        )
        self.executors[(framework_id, executor_id)] = executor
        self.records.executor_started(framework_info, info, container_id, str(directory))
        self._hold(framework_id, resources)
        self._background.run(self._run_executor(executor))
        return executor

    def settings(self) -> AgentSettings:
        """What of this agent reaches its executors' environment."""
        return AgentSettings.of_this_process(
            pid=f"slave({self.index})@127.0.0.1:{self.port}",
            endpoint=f"127.0.0.1:{self.port}",
            agent_id=self.id,
            shutdown_grace=self.shutdown_grace,
            executor_environment_variables=self.executor_environment_variables,
        )

    def _executor_env(self, executor: Executor) -> dict[str, str]:
        return executor_environment(
            self.settings(),
            framework_id=executor.framework_id,
            executor_id=executor.executor_id,
            directory=str(executor.directory),
            checkpoint=bool(executor.framework_info.get("checkpoint")),
            shutdown_grace=executor.grace,
            command=executor.info.get("command") or {},
        )

    async def _run_executor(self, executor: Executor) -> None:
        command = executor.info.get("command") or {}
        try:
            argv, executable = processes.command_argv(command)
            env = self._executor_env(executor)
            await asyncio.to_thread(fetch, command.get("uris") or [], executor.directory)
            executor.process = await processes.spawn(
                argv,
                executable=executable,
                cwd=executor.directory,
                env=env,
                watchdog=self.watchdog,
            )
        except (OSError, ValueError, subprocess.SubprocessError, FetchError) as exc:
            log.error("agent %s: cannot start executor %s: %s", self.id, executor.executor_id, exc)
            self._executor_exited(executor, None, f"Failed to launch executor: {exc}")
            return
        log.debug(
            "agent %s: executor %s pid %d", self.id, executor.executor_id, executor.process.pid
        )
        returncode = await processes.wait_group(
            executor.process, self.watchdog, executor.directory
        )
        self._executor_exited(executor, returncode, f"Executor {describe_exit(returncode)}")

    def _executor_exited(self, executor: Executor, returncode: int | None, message: str) -> None:
        if executor.state is ExecutorState.TERMINATED:
            return
        executor.transition(ExecutorState.TERMINATED)
        if executor.stream is not None:
            executor.stream.close()
        state = TaskState.KILLED if executor.shutting_down else TaskState.FAILED
        for task_id in list(executor.tasks):
            self.forward(
                executor.framework_id,
                {
                    "task_id": {"value": task_id},
                    "state": state.value,
                    "source": "SOURCE_AGENT",
                    "reason": "REASON_EXECUTOR_TERMINATED",
                    "message": message,
                    "executor_id": {"value": executor.executor_id},
                },
            )
        del self.executors[(executor.framework_id, executor.executor_id)]
        self.records.executor_ended(executor.framework_id, executor.executor_id)
        self._free(executor.framework_id, executor.resources)
        status = processes_status(returncode)
        self.master.executor_terminated(self, executor.framework_id, executor.executor_id, status)
        self.master.resources_released(self)

    def _start_command(self, framework_info: dict[str, Any], task: dict[str, Any]) -> None:
        framework_id = framework_info["id"]["value"]
        task_id = task["task_id"]["value"]
        grace = (
            float(
                ((task.get("kill_policy") or {}).get("grace_period") or {}).get(
                    "nanoseconds", self.shutdown_grace * 1e9
                )
            )
            / 1e9
        )
        container_id = str(uuid.uuid4())
        directory = (
            self.work_dir
            / "frameworks"
            / framework_id
            / "executors"
            / task_id
            / "runs"
            / container_id
        )
        # Mesos runs a command task under a command executor whose id is the task id.
        self.files.attach_executor(directory, framework_id, task_id)
        command = CommandTask(framework_id, task, directory, grace, framework_info)
        self.commands[(framework_id, task_id)] = command
        self.records.executor_started(
            framework_info, command_executor_info(framework_id, task), container_id, str(directory)
        )
        self.records.task_launched(framework_id, task_id, task)
        self._background.run(self._command_executor(command))

    async def _command_executor(self, command: CommandTask) -> None:
        """The life of a command task's (built-in) command executor."""
        await self._run_command(command)
        self.records.executor_ended(command.framework_id, command.task["task_id"]["value"])

    def _command_env(self, command: CommandTask) -> dict[str, str]:
        """The environment Mesos' command executor (executor id = task id; the task's
        CommandInfo.environment is copied into its ExecutorInfo) gives the task."""
        info = command.task.get("command") or {}
        executor_env = executor_environment(
            self.settings(),
            framework_id=command.framework_id,
            executor_id=command.task["task_id"]["value"],
            directory=str(command.directory),
            checkpoint=bool(command.framework_info.get("checkpoint")),
            shutdown_grace=self.shutdown_grace,
            command=info,
        )
        return command_task_environment(executor_env, info, command.role)

    async def _run_command(self, command: CommandTask) -> None:
        task_id = command.task["task_id"]["value"]
        info = command.task.get("command") or {}

        def update(state: TaskState, message: str | None = None) -> None:
            status: dict[str, Any] = {
                "task_id": {"value": task_id},
                "state": state.value,
                "source": "SOURCE_EXECUTOR",
                "executor_id": {"value": task_id},
            }
            if message is not None:
                status["message"] = message
            self.forward(command.framework_id, status)

        update(TaskState.STARTING)
        try:
            argv, executable = processes.command_argv(info)
            env = self._command_env(command)
            await asyncio.to_thread(fetch, info.get("uris") or [], command.directory)
            command.process = await processes.spawn(
                argv,
                executable=executable,
                cwd=command.directory,
                env=env,
                watchdog=self.watchdog,
            )
        except (OSError, ValueError, subprocess.SubprocessError, FetchError) as exc:
            self.commands.pop((command.framework_id, task_id), None)
            update(TaskState.FAILED, f"Failed to launch command: {exc}")
            return
        if command.killed:
            await processes.terminate(command.process, command.grace)
        else:
            update(TaskState.RUNNING)
        returncode = await processes.wait_group(
            command.process, self.watchdog, command.directory
        )
        self.commands.pop((command.framework_id, task_id), None)
        if command.killed:
            update(TaskState.KILLED, f"Command {describe_exit(returncode)}")
        elif returncode == 0:
            update(TaskState.FINISHED, "Command exited with status 0")
        else:
            update(TaskState.FAILED, f"Command {describe_exit(returncode)}")

    # ------------------------------------------------------------------ killing

    def kill_task(self, framework_id: str, task_id: str) -> None:
        command = self.commands.get((framework_id, task_id))
        if command is not None:
            if not command.killed:
                command.killed = True
                if command.process is not None:
                    if command.reports_killing:
                        # src/launcher/executor.cpp `kill`: a launched task is reported
                        # TASK_KILLING first when the framework can handle it.
                        self.forward(
                            framework_id,
                            {
                                "task_id": {"value": task_id},
                                "state": TaskState.KILLING.value,
                                "source": "SOURCE_EXECUTOR",
                                "executor_id": {"value": task_id},
                            },
                        )
                    self._background.run(processes.terminate(command.process, command.grace))
            return
        for executor in self.executors.values():
            if executor.framework_id != framework_id or task_id not in executor.tasks:
                continue
            if not any(task_id in event_task_ids(e) for e in executor.queued):
                # Delivered: the executor kills it (on re-subscription if it is disconnected).
                executor.deliver({"type": "KILL", "kill": {"task_id": {"value": task_id}}})
                return
            # Never delivered to the executor: Mesos answers these itself.
            executor.queued = [e for e in executor.queued if task_id not in event_task_ids(e)]
            self.forward(
                framework_id,
                {
                    "task_id": {"value": task_id},
                    "state": TaskState.KILLED.value,
                    "source": "SOURCE_AGENT",
                    "reason": "REASON_TASK_KILLED_DURING_LAUNCH",
                    "message": "Killed before delivery to the executor",
                    "executor_id": {"value": executor.executor_id},
                },
            )
            return

    def shutdown_executor(self, framework_id: str, executor_id: str) -> None:
        executor = self.executors.get((framework_id, executor_id))
        if executor is not None:
            self._background.run(self._shutdown(executor))

    async def _shutdown(self, executor: Executor) -> None:
        if executor.state in (ExecutorState.TERMINATING, ExecutorState.TERMINATED):
            return
        executor.shutting_down = True
        if executor.state is ExecutorState.RUNNING and executor.stream is not None:
            executor.stream.send({"type": "SHUTDOWN"})
        executor.transition(ExecutorState.TERMINATING)
        process = executor.process
        if process is None:
            return
        try:
            async with asyncio.timeout(executor.grace):
                await process.wait()
        except TimeoutError:
            await processes.terminate(process, executor.grace)

    async def shutdown_framework(self, framework_id: str) -> None:
        """Kills every task and executor of the framework; returns once all are gone."""
        for fid, task_id in list(self.commands):
            if fid == framework_id:
                self.kill_task(fid, task_id)
        await asyncio.gather(
            *(
                self._shutdown(e)
                for e in list(self.executors.values())
                if e.framework_id == framework_id
            )
        )
        await self._drain(lambda fid: fid == framework_id)

    async def stop(self) -> None:
        """Shuts down every executor and command task of this agent."""
        for fid, task_id in list(self.commands):
            self.kill_task(fid, task_id)
        await asyncio.gather(*(self._shutdown(e) for e in list(self.executors.values())))
        await self._drain(lambda fid: True)

    async def _drain(self, matches: Callable[[str], bool], timeout: float = 30.0) -> None:
        """Waits for the exit watchers of the matching processes to finish their reports."""
        deadline = asyncio.get_running_loop().time() + timeout
        while any(matches(fid) for fid, _ in [*self.executors, *self.commands]):
            if asyncio.get_running_loop().time() > deadline:
                left = [key for key in [*self.executors, *self.commands] if matches(key[0])]
                log.error(
                    "agent %s: processes still running after %.0fs: %s", self.id, timeout, left
                )
                return
            await asyncio.sleep(0.02)

    async def destroy(self) -> None:
        """The agent dies: SIGKILL to every process group it started."""
        for executor in self.executors.values():
            executor.shutting_down = True
            if executor.process is not None:
                processes.signal_group(executor.process.pid, signal.SIGKILL)
        for command in self.commands.values():
            command.killed = True
            if command.process is not None:
                processes.signal_group(command.process.pid, signal.SIGKILL)
        await self._drain(lambda fid: True)

    def kill_executor(self, executor_id: str | None) -> int:
        """SIGKILLs an executor's process group (the first one when `executor_id` is None)."""
        for executor in self.executors.values():
            if executor_id in (None, executor.executor_id) and executor.process is not None:
                processes.signal_group(executor.process.pid, signal.SIGKILL)
                return executor.process.pid
        raise KeyError(f"agent {self.id} has no running executor {executor_id or ''}".strip())

    async def restart(self, keeps: Callable[[str], bool]) -> None:
        """An agent restart: executor streams drop; executors whose framework does not
        checkpoint (`keeps(framework_id)` false) are destroyed, the others may re-subscribe."""
        for executor in list(self.executors.values()):
            if executor.stream is not None:
                executor.stream.close()
                executor.stream = None
            if executor.state is ExecutorState.RUNNING:
                executor.transition(ExecutorState.LAUNCHING)
        doomed = [e for e in self.executors.values() if not keeps(e.framework_id)]
        for executor in doomed:
            executor.tasks.clear()  # the master reports these as lost
            if executor.process is not None:
                processes.signal_group(executor.process.pid, signal.SIGKILL)
        for (fid, _task_id), command in list(self.commands.items()):
            if not keeps(fid):
                command.killed = True
                if command.process is not None:
                    processes.signal_group(command.process.pid, signal.SIGKILL)
        await self._drain(lambda fid: not keeps(fid))

    # ------------------------------------------------------------------ status updates

    def forward(
        self, framework_id: str, status: dict[str, Any], *, from_executor: bool = False
    ) -> None:
        """Records a status update (terminal ones release the task's resources) and sends it
        on to the master; every update leaving the agent carries a uuid."""
        status.setdefault("uuid", new_uuid())
        status.setdefault("timestamp", now())
        status["agent_id"] = {"value": self.id}
        self.records.status(framework_id, status)
        task_id = status["task_id"]["value"]
        if task_state(status["state"]) in TERMINAL:
            for executor in self.executors.values():
                if executor.framework_id == framework_id:
                    executor.tasks.pop(task_id, None)
            if self._free_task(framework_id, task_id):
                self.master.resources_released(self)
        if self.connected:
            self.master.status_update(self, framework_id, status, from_executor)
        else:
            self.held.append((framework_id, status, from_executor))

    def disconnect(self) -> None:
        """The connection to the master breaks; executors and tasks keep running."""
        self.connected = False

    def reconnect(self) -> list[tuple[str, dict[str, Any], bool]]:
        """The connection is back: returns the held updates (framework id, status, from
        an executor), oldest first, for the master to take in."""
        self.connected = True
        held, self.held = self.held, []
        return held

    def framework_ids(self) -> set[str]:
        """The frameworks with an executor or a command task here."""
        return {fid for fid, _ in [*self.executors, *self.commands]}

    def acknowledged(self, framework_id: str, executor_id: str, task_id: str, uuid_: str) -> None:
        executor = self.executors.get((framework_id, executor_id))
        if executor is not None and executor.received.get(task_id, {}).get(uuid_):
            del executor.received[task_id]
        if executor is not None and executor.stream is not None:
            executor.stream.send(
                {
                    "type": "ACKNOWLEDGED",
                    "acknowledged": {"task_id": {"value": task_id}, "uuid": uuid_},
                }
            )

    def message(self, framework_id: str, executor_id: str, data: str) -> bool:
        executor = self.executors.get((framework_id, executor_id))
        if executor is None or executor.state is not ExecutorState.RUNNING:
            return False
        executor.deliver({"type": "MESSAGE", "message": {"data": data}})
        return True

    # ------------------------------------------------------------------ executor API

    def executor_call(self, call: dict[str, Any]) -> EventStream | None:
        """Handles one converted and validated executor call (validation.py): SUBSCRIBE
        returns the event stream, others None. The lookups and answers are those of
        src/slave/http.cpp `Http::executor`."""
        kind = call["type"]
        if kind == "HEARTBEAT":
            return None  # answered before any lookup, as the ids may be dummies
        framework_id = call["framework_id"]["value"]
        executor_id = call["executor_id"]["value"]
        if not any(fid == framework_id for fid, _ in [*self.executors, *self.commands]):
            raise CallRejected(400, "Framework cannot be found")
        executor = self.executors.get((framework_id, executor_id))
        if executor is None or executor.state is ExecutorState.TERMINATED:
            raise CallRejected(400, "Executor cannot be found")
        if kind != "SUBSCRIBE" and executor.stream is None:
            raise CallRejected(403, "Executor is not subscribed")
        if kind == "SUBSCRIBE":
            return self._subscribe(executor, call["subscribe"])
        if kind == "UPDATE":
            self._executor_update(executor, call["update"]["status"])
        elif kind == "MESSAGE":
            self.master.executor_message(self, framework_id, executor_id, call["message"]["data"])
        else:
            raise CallRejected(501, "501 Not Implemented.")
        return None

    def _subscribe(self, executor: Executor, subscribe: dict[str, Any]) -> EventStream:
        if executor.state is ExecutorState.TERMINATING:
            raise CallRejected(400, "Executor is being shut down")
        if executor.stream is not None:
            executor.stream.close()
        stream = EventStream()
        executor.stream = stream
        if executor.state is ExecutorState.LAUNCHING:
            executor.transition(ExecutorState.RUNNING)
        stream.send(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "executor_info": executor.info,
                    "framework_info": executor.framework_info,
                    "agent_info": self.info(),
                    "container_id": {"value": executor.container_id},
                },
            }
        )
        # After an agent restart the executor re-sends updates it never saw acknowledged.
        for update in subscribe.get("unacknowledged_updates", []):
            status = update["status"]
            if not executor.has_received(status):
                self._accept_update(executor, status)
        queued, executor.queued = executor.queued, []
        for event in queued:
            stream.send(event)
        return stream

    def _executor_update(self, executor: Executor, status: dict[str, Any]) -> None:
        if executor.has_received(status):
            return  # a retry of an update already on its way to the scheduler
        self._accept_update(executor, status)

    def _accept_update(self, executor: Executor, status: dict[str, Any]) -> None:
        if "uuid" in status:
            terminal = task_state(status["state"]) in TERMINAL
            executor.received.setdefault(status["task_id"]["value"], {})[status["uuid"]] = terminal
        status = {**status, "source": "SOURCE_EXECUTOR"}
        status["executor_id"] = {"value": executor.executor_id}
        self.forward(executor.framework_id, status, from_executor=True)

    def executor_stream_closed(
        self, framework_id: str, executor_id: str, stream: EventStream
    ) -> None:
        executor = self.executors.get((framework_id, executor_id))
        if executor is not None and executor.stream is stream:
            executor.stream = None
            if executor.state is ExecutorState.RUNNING:
                executor.transition(ExecutorState.LAUNCHING)


def event_task_ids(event: dict[str, Any]) -> set[str]:
    if event.get("type") == "LAUNCH":
        return {event["launch"]["task"]["task_id"]["value"]}
    if event.get("type") == "LAUNCH_GROUP":
        return {t["task_id"]["value"] for t in event["launch_group"]["task_group"]["tasks"]}
    return set()


def processes_status(returncode: int | None) -> int:
    """The FAILURE status of an executor; one that never started counts as exit status 1."""
    return wait_status(returncode) if returncode is not None else 1 << 8
