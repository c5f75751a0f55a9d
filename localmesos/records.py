"""What an agent remembers of its frameworks, executors and tasks, for its `/state`: live ones,
and the most recent completed ones in circular buffers of the real agent's sizes
(src/slave/constants.hpp), so memory stays bounded however many tasks run."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mesosapi.taskstates import TERMINAL, task_state

MAX_COMPLETED_FRAMEWORKS = 50
MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK = 150
MAX_COMPLETED_TASKS_PER_EXECUTOR = 200


@dataclass(eq=False)
class TaskRecord:
    info: dict[str, Any]  # TaskInfo
    framework_id: str
    executor_id: str
    state: str = "TASK_STAGING"
    statuses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.info["task_id"]["value"])


@dataclass(eq=False)
class ExecutorRecord:
    info: dict[str, Any]  # ExecutorInfo; for a command task, the one Mesos generates for it
    container_id: str
    directory: str
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    completed_tasks: deque[TaskRecord] = field(
        default_factory=lambda: deque(maxlen=MAX_COMPLETED_TASKS_PER_EXECUTOR)
    )

    @property
    def id(self) -> str:
        return str(self.info["executor_id"]["value"])


@dataclass(eq=False)
class FrameworkRecord:
    info: dict[str, Any]  # FrameworkInfo, with its id
    executors: dict[str, ExecutorRecord] = field(default_factory=dict)
    completed_executors: deque[ExecutorRecord] = field(
        default_factory=lambda: deque(maxlen=MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK)
    )


def command_executor_info(framework_id: str, task: dict[str, Any]) -> dict[str, Any]:
    """The ExecutorInfo Mesos makes for a command task (Slave::getExecutorInfo): named after the
    task and its command, executor id and source the task id."""
    task_id = task["task_id"]["value"]
    command = task.get("command") or {}
    value = str(command.get("value", ""))
    if command.get("shell", True):
        shown = f"sh -c '{value[:12]}...'" if len(value) > 15 else f"sh -c '{value}'"
    else:
        args = ", ".join([value, *(command.get("arguments") or [])])
        shown = f"[{args[:12]}...]" if len(args) > 15 else f"[{args}]"
    return {
        "executor_id": {"value": task_id},
        "framework_id": {"value": framework_id},
        "name": f"Command Executor (Task: {task_id}) (Command: {shown})",
        "source": task_id,
        "resources": [],
    }


class AgentRecords:
    def __init__(self) -> None:
        self.frameworks: dict[str, FrameworkRecord] = {}
        self.completed_frameworks: deque[FrameworkRecord] = deque(maxlen=MAX_COMPLETED_FRAMEWORKS)
        self._executor_of: dict[tuple[str, str], ExecutorRecord] = {}  # live task -> executor

    def executor_started(
        self,
        framework_info: dict[str, Any],
        executor_info: dict[str, Any],
        container_id: str,
        directory: str,
    ) -> None:
        framework_id = framework_info["id"]["value"]
        framework = self.frameworks.get(framework_id)
        if framework is None:
            framework = self.frameworks[framework_id] = FrameworkRecord(framework_info)
        record = ExecutorRecord(executor_info, container_id, directory)
        framework.executors[record.id] = record

    def task_launched(self, framework_id: str, executor_id: str, task: dict[str, Any]) -> None:
        executor = self.frameworks[framework_id].executors[executor_id]
        record = TaskRecord(task, framework_id, executor_id)
        executor.tasks[record.id] = record
        self._executor_of[(framework_id, record.id)] = executor

    def status(self, framework_id: str, status: dict[str, Any]) -> None:
        """A status update passing the agent: the task's state; a terminal one completes it."""
        task_id = status["task_id"]["value"]
        executor = self._executor_of.get((framework_id, task_id))
        if executor is None or task_id not in executor.tasks:
            return
        task = executor.tasks[task_id]
        # As the agent's Executor::updateTaskState: a repeated state replaces the last status.
        if task.statuses and task.statuses[-1]["state"] == status["state"]:
            task.statuses.pop()
        task.statuses.append(status_model(status))
        task.state = status["state"]
        if task_state(task.state) in TERMINAL:
            del executor.tasks[task_id]
            del self._executor_of[(framework_id, task_id)]
            executor.completed_tasks.append(task)

    def executor_ended(self, framework_id: str, executor_id: str) -> None:
        """The executor is gone; a framework left without executors is completed."""
        framework = self.frameworks.get(framework_id)
        if framework is None or executor_id not in framework.executors:
            return
        executor = framework.executors.pop(executor_id)
        for task_id in executor.tasks:
            self._executor_of.pop((framework_id, task_id), None)
        framework.completed_executors.append(executor)
        if not framework.executors:
            del self.frameworks[framework_id]
            self.completed_frameworks.append(framework)


def status_model(status: dict[str, Any]) -> dict[str, Any]:
    """A TaskStatus as the state endpoints show it (common/http.cpp, json(TaskStatus))."""
    shown = {"state": status["state"], "timestamp": status.get("timestamp", 0.0)}
    for optional in ("labels", "container_status", "healthy"):
        if optional in status:
            shown[optional] = status[optional]
    return shown
