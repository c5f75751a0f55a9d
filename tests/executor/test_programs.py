"""The executor runs the `command` operation's programs for real, and never leaves a process
behind."""

import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
import pytest

from femto.executor.programs import TaskPrograms, end_all_programs, run_program
from femto.executor.tasklog import TaskLog
from femto.jobs.operations import Context, Transform, get_operation
from femto.jobs.operations.programs import CommandCancelled, CommandError, CommandTimeout

DOUBLE = (
    "import io, sys, numpy as np; "
    "x = np.load(io.BytesIO(sys.stdin.buffer.read())); "
    "np.save(sys.stdout.buffer, x * 2)"
)


def command(argv: list[str], x: np.ndarray, **params: object) -> np.ndarray:
    op = get_operation("command")
    assert isinstance(op, Transform)
    return op.map([x], op.parse_params({"argv": argv, **params}),
                  Context(programs=TaskPrograms(threading.Event())))


def gone(pid: int) -> bool:
    """True once pid has exited. A killed grandchild is re-parented to PID 1 and may sit there
    as a zombie until PID 1 reaps it: it runs no more, so that counts as gone."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def read_pids(path: Path) -> list[int]:
    assert wait_for(path.exists), "the program never wrote its pids"
    return [int(p) for p in path.read_text().split()]


def spawner(pid_file: Path, *, ignore_term: bool = False) -> list[str]:
    """A program that starts a sleeping grandchild, records both pids, then sleeps."""
    code = (
        "import os, signal, subprocess, sys, time\n"
        + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_term else "")
        + "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"tmp = {str(pid_file)!r} + '.tmp'\n"
        "open(tmp, 'w').write(f'{os.getpid()} {child.pid}')\n"
        f"os.rename(tmp, {str(pid_file)!r})\n"
        "time.sleep(60)\n"
    )
    return [sys.executable, "-c", code]


def test_program_output_is_the_partition() -> None:
    x = np.random.default_rng(1).normal(size=(1_000, 3))
    np.testing.assert_array_equal(command([sys.executable, "-c", DOUBLE], x), x * 2)
    big = np.arange(300_000.0)  # larger than a pipe buffer in both directions
    np.testing.assert_array_equal(command(["cat"], big), big)


def test_non_zero_exit_carries_status_and_stderr_tail() -> None:
    with pytest.raises(CommandError) as caught:
        command(["sh", "-c", "cat >/dev/null; echo 'x' >&2; echo 'disk on fire' >&2; exit 3"],
                np.arange(3.0))
    assert caught.value.returncode == 3
    assert "status 3" in str(caught.value) and "disk on fire" in str(caught.value)


def test_unparsable_output_is_an_error() -> None:
    with pytest.raises(CommandError, match=r"no usable \.npy.*complaint"):
        command(["sh", "-c", "cat >/dev/null; echo hello; echo complaint >&2"], np.arange(3.0))


def test_missing_program_is_an_error() -> None:
    with pytest.raises(CommandError, match="cannot start"):
        command(["/nonexistent/femto-program"], np.arange(3.0))


def test_cancel_kills_the_whole_process_group(tmp_path: Path) -> None:
    cancel = threading.Event()
    raised: list[BaseException] = []
    op = get_operation("command")
    params = op.parse_params({"argv": spawner(tmp_path / "pids")})

    def work() -> None:
        try:
            op.map([np.arange(10.0)], params, Context(programs=TaskPrograms(cancel)))
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    pids = read_pids(tmp_path / "pids")
    assert not any(gone(pid) for pid in pids)
    cancel.set()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert [type(e) for e in raised] == [CommandCancelled]
    assert wait_for(lambda: all(gone(pid) for pid in pids))


def test_sigterm_escalates_to_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    cancel = threading.Event()

    def cancel_once_started() -> None:
        read_pids(tmp_path / "pids")  # by then the program ignores SIGTERM
        cancel.set()

    threading.Thread(target=cancel_once_started).start()
    with pytest.raises(CommandCancelled) as caught:
        run_program(spawner(tmp_path / "pids", ignore_term=True), b"", cancel=cancel, grace=0.5)
    assert caught.value.returncode == -signal.SIGKILL
    assert wait_for(lambda: all(gone(pid) for pid in read_pids(tmp_path / "pids")))


def test_timeout_stops_the_program(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match="timed out"):
        command(spawner(tmp_path / "pids"), np.arange(3.0), timeout=1.5)
    assert time.monotonic() - started < 5
    assert wait_for(lambda: all(gone(pid) for pid in read_pids(tmp_path / "pids")))


def test_helpers_left_running_after_success_are_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "helper"
    script = f"sleep 60 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; exec cat"
    x = np.arange(4.0)
    np.testing.assert_array_equal(command(["sh", "-c", script], x), x)
    [helper] = read_pids(pid_file)
    assert wait_for(lambda: gone(helper))


def test_a_slow_reader_still_gets_all_its_input() -> None:
    # The program reads only after the first poll has timed out, and the input
    # is larger than a pipe buffer: all of it must still arrive, then EOF.
    data = bytes(range(256)) * 8192  # 2 MiB
    assert run_program(["sh", "-c", "sleep 0.3; cat"], data, timeout=30).stdout == data


def own_session_spawner(pid_file: Path, then: str) -> list[str]:
    """A program that starts a grandchild in a session of its own (out of the program's
    process group, holding its stdout open), records its pid, then runs `then`."""
    return ["sh", "-c",
            f"setsid sleep 300 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; {then}"]


def test_cancel_ends_a_grandchild_in_its_own_session(tmp_path: Path) -> None:
    cancel = threading.Event()

    def cancel_once_started() -> None:
        read_pids(tmp_path / "pids")
        cancel.set()

    threading.Thread(target=cancel_once_started).start()
    with pytest.raises(CommandCancelled):
        run_program(own_session_spawner(tmp_path / "pids", "sleep 300"), b"", cancel=cancel,
                    grace=0.5)
    [grandchild] = read_pids(tmp_path / "pids")
    assert wait_for(lambda: gone(grandchild))


def test_a_finished_program_takes_its_own_session_grandchild_along(tmp_path: Path) -> None:
    x = np.arange(4.0)
    # Without the mark the call would never return: the grandchild holds stdout open.
    np.testing.assert_array_equal(
        command(own_session_spawner(tmp_path / "pids", "exec cat"), x, timeout=60), x
    )
    [grandchild] = read_pids(tmp_path / "pids")
    assert wait_for(lambda: gone(grandchild))


def test_end_all_programs_reaches_what_a_running_program_started(tmp_path: Path) -> None:
    raised: list[BaseException] = []

    def work() -> None:
        try:
            run_program(own_session_spawner(tmp_path / "pids", "sleep 300"), b"")
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    [grandchild] = read_pids(tmp_path / "pids")
    assert end_all_programs() == []
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert [type(e) for e in raised] == [CommandError]
    assert wait_for(lambda: gone(grandchild))


def test_a_tasks_programs_write_their_stderr_to_its_log(tmp_path: Path) -> None:
    log = TaskLog(tmp_path / "task")
    programs = TaskPrograms(threading.Event(), log)
    first = programs.run(["sh", "-c", "echo first >&2; cat"], b"in", None)
    second = programs.run(["sh", "-c", "echo second >&2; exit 0"], b"", None)
    assert (first.stdout, first.stderr) == (b"in", "first")
    assert (second.stdout, second.stderr) == (b"", "second")  # only its own run's tail
    assert log.stderr.read_text().split() == ["first", "second"]


def test_a_program_reports_its_progress_through_the_file_its_environment_names(
    tmp_path: Path,
) -> None:
    # The program goes on once the supervisor has seen each of its words: no timing.
    go_on, finish, done = tmp_path / "go-on", tmp_path / "finish", tmp_path / "done"
    code = (
        "import os, time\n"
        "path = os.environ['FEMTO_PROGRESS_FILE']\n"
        "def wait(p):\n"
        "    while not os.path.exists(p): time.sleep(0.01)\n"
        "open(path, 'w').write('0.25')\n"
        f"wait({str(go_on)!r})\n"
        "with open(path, 'a') as f: f.write('\\nnot a number\\n0.5\\n')\n"
        f"wait({str(finish)!r})\n"
        "open(path, 'w').write('7')\n"  # past 1: reported as 1
        f"wait({str(done)!r})\n"
    )
    seen: list[float] = []

    def report(fraction: float) -> None:
        if not seen or seen[-1] != fraction:
            seen.append(fraction)
        {0.25: go_on, 0.5: finish, 1.0: done}[fraction].touch()

    programs = TaskPrograms(threading.Event(), progress=report)
    programs.run([sys.executable, "-c", code], b"", 30.0)
    assert seen == [0.25, 0.5, 1.0]


def test_without_a_progress_callback_a_program_gets_no_progress_file() -> None:
    out = TaskPrograms(threading.Event()).run(
        ["sh", "-c", "echo ${FEMTO_PROGRESS_FILE:-none}"], b"", None)
    assert out.stdout == b"none\n"
