"""What an executor does with a task whose operation its agent lacks (executor/operations.py):
it looks again first, then fails naming the package the scheduler has it from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from femto.executor.operations import MissingOperation, find_operation
from femto.jobs.operations import Package
from femto.jobs.operations.registry import registry
from femto.jobs.wire import TaskPayload
from tests.plugins.distributions import TOTAL, on_path, write_distribution


def task(operation: str, package: Package | None) -> TaskPayload:
    return TaskPayload(job_id="j", partition=0, attempt=1, operation=operation,
                       package=package, inputs=[{"uri": "file:///x.npy", "length": 1,
                                                 "dtype": "float64"}])


@pytest.fixture
def scanned_again_after() -> Iterator[None]:
    yield
    registry.cache_clear()


def test_a_package_installed_since_the_last_scan_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scanned_again_after: None
) -> None:
    registry.cache_clear()
    assert "late_total" not in registry().operations  # as an executor that started before
    write_distribution(tmp_path, "femto-late", "1.0", "femto_late",
                       TOTAL.format(name="late_total"), {"late_total": "Total"})
    monkeypatch.syspath_prepend(str(tmp_path))  # ... the package was installed
    assert "late_total" not in registry().operations
    assert find_operation(task("late_total", None)).name == "late_total"


def test_a_missing_operation_names_the_schedulers_package() -> None:
    with pytest.raises(MissingOperation) as caught:
        find_operation(task("gone_total", Package(name="femto-gone", version="2.1")))
    assert str(caught.value) == (
        "operation 'gone_total' is not installed on this agent: the scheduler has it from "
        "package femto-gone 2.1; install that on every agent (pip install 'femto-gone==2.1')")


def test_an_operation_that_cannot_load_here_says_why(tmp_path: Path) -> None:
    write_distribution(tmp_path, "femto-needs-lib", "1.0", "femto_needs_lib",
                       "raise ImportError('no libfoo here')", {"needy": "Total"})
    with on_path(tmp_path), pytest.raises(MissingOperation) as caught:
        find_operation(task("needy", Package(name="femto-needs-lib", version="1.0")))
    assert str(caught.value) == (
        "on this agent, operation 'needy' of femto-needs-lib 1.0 cannot be used: "
        "cannot import femto_needs_lib:Total: ImportError: no libfoo here")
