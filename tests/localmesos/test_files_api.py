"""The agents' sandbox file API over raw HTTP, written from Mesos' src/files/files.cpp
(browse, read, download, debug, resolve) and src/slave/slave.cpp (the paths an executor's
sandbox is attached under)."""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from localmesos import LocalMesos
from tests.localmesos.conftest import executor_info, leak_checked
from tests.localmesos.raw_scheduler import RawScheduler, command_task
from tests.localmesos.test_executors import executor_task
from tests.waiting import wait_for

PAGES_16 = os.sysconf("SC_PAGESIZE") * 16
BIG = PAGES_16 + 1000

# The command task's sandbox: plain files, a directory, a big file and symlinks that
# point inside and outside the sandbox.
SETUP = (
    "printf hello; printf oops >&2; mkdir sub; printf 0123456789 > sub/ten; "
    f"head -c {BIG} /dev/zero > big; "
    f"ln -s / root; ln -s {'../' * 40} up; ln -s sub/ten ten-link; "
    "touch ready; sleep 60"
)


@dataclass
class Sandbox:
    agent: str  # the agent's base URL
    framework_id: str
    executor_id: str
    directory: str  # the run directory's real path

    @property
    def latest(self) -> str:
        return f"/frameworks/{self.framework_id}/executors/{self.executor_id}/runs/latest"


@pytest.fixture(scope="module")
def mesos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesos]:
    with leak_checked(agents=1, cpus=1.0, mem=512.0,
                      work_dir=tmp_path_factory.mktemp("mesos"), shutdown_grace=0.5) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def scheduler(mesos: LocalMesos) -> Iterator[RawScheduler]:
    sched = RawScheduler(mesos.url)
    sched.subscribe()
    yield sched
    sched.stop()


def launch(scheduler: RawScheduler, task: Any) -> dict[str, Any]:
    """Launches `task(offer)` on the one agent's outstanding offer; returns the offer."""
    used = LAUNCHED_OFFERS
    offer = wait_for(lambda: next((o for o in reversed(scheduler.offers())
                                   if o["id"]["value"] not in used), None),
                     10, "an unused offer")
    LAUNCHED_OFFERS.add(offer["id"]["value"])
    scheduler.accept([offer], [task(offer)], refuse_seconds=0)
    return offer


LAUNCHED_OFFERS: set[str] = set()


def agent_url(offer: dict[str, Any]) -> str:
    address = offer["url"]["address"]
    return f"{offer['url']['scheme']}://{address['ip']}:{address['port']}"


@pytest.fixture(scope="module")
def sandbox(scheduler: RawScheduler) -> Sandbox:
    offer = launch(scheduler, lambda o: command_task("files-task", o, SETUP))
    scheduler.wait_update("files-task", "TASK_RUNNING")
    agent = agent_url(offer)
    assert scheduler.framework_id is not None
    box = Sandbox(agent, scheduler.framework_id["value"], "files-task", "")
    wait_for(lambda: get(box, "browse", path=f"{box.latest}/ready").status_code == 200,
             10, "the task to set up its sandbox")
    debug = get(box, "debug").json()
    box.directory = debug[box.latest]
    return box


def get(box: Sandbox, endpoint: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{box.agent}/files/{endpoint}", params=params, timeout=10)


def read(box: Sandbox, path: str, **params: Any) -> httpx.Response:
    return get(box, "read", path=f"{box.latest}/{path}", **params)


# ----- attached paths (slave.cpp Framework::addExecutor, paths.cpp) -----


def test_a_sandbox_is_attached_under_its_three_paths(sandbox: Sandbox) -> None:
    debug = get(sandbox, "debug").json()
    run = Path(sandbox.directory)
    assert run.parent.name == "runs" and run.is_dir()
    assert (run / "stdout").read_bytes() == b"hello"
    latest_link = run.parent / "latest"
    assert latest_link.is_symlink() and latest_link.resolve() == run
    assert {k: v for k, v in debug.items() if v == sandbox.directory}.keys() == {
        sandbox.latest, str(latest_link), str(run)}


def test_every_attached_path_browses_the_same_sandbox(sandbox: Sandbox) -> None:
    listings = []
    run = Path(sandbox.directory)
    for root in (sandbox.latest, str(run), str(run.parent / "latest")):
        entries = get(sandbox, "browse", path=root).json()
        assert all(e["path"] == f"{root}/{os.path.basename(e['path'])}" for e in entries)
        listings.append([{**e, "path": os.path.basename(e["path"])} for e in entries])
    assert listings[0] == listings[1] == listings[2]


def test_a_custom_executor_sandbox_is_attached_too(
    scheduler: RawScheduler, sandbox: Sandbox
) -> None:
    executor = executor_info("files-exec")
    launch(scheduler, lambda o: executor_task("files-exec-task", o, executor, sleep=30))
    scheduler.wait_update("files-exec-task", "TASK_RUNNING")
    path = f"/frameworks/{sandbox.framework_id}/executors/files-exec/runs/latest"
    names = {os.path.basename(e["path"]) for e in get(sandbox, "browse", path=path).json()}
    assert {"stdout", "stderr"} <= names


# ----- browse -----


def test_browse_lists_entries_sorted_in_the_mesos_file_info_shape(sandbox: Sandbox) -> None:
    response = get(sandbox, "browse", path=sandbox.latest)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    entries = response.json()
    names = [os.path.basename(e["path"]) for e in entries]
    assert names == sorted(names)
    assert {"stdout", "stderr", "sub", "big", "root", "ten-link", "ready"} <= set(names)
    by_name = dict(zip(names, entries, strict=True))
    user = pwd.getpwuid(os.getuid()).pw_name
    for entry in entries:
        assert set(entry) == {"path", "nlink", "size", "mtime", "mode", "uid", "gid"}
        assert re.fullmatch(r"[-dcbpls][-r][-w][-x][-r][-w][-x][-r][-w][-x]", entry["mode"])
        assert isinstance(entry["mtime"], int) and isinstance(entry["nlink"], int)
    stdout = by_name["stdout"]
    assert stdout["size"] == 5 and stdout["mode"][0] == "-" and stdout["uid"] == user
    assert abs(stdout["mtime"] - os.stat(Path(sandbox.directory) / "stdout").st_mtime) < 1
    assert by_name["sub"]["mode"][0] == "d"
    # browse stats through symlinks.
    assert by_name["ten-link"]["size"] == 10 and by_name["ten-link"]["mode"][0] == "-"
    assert by_name["root"]["mode"][0] == "d"


def test_browse_a_subdirectory_and_a_trailing_slash(sandbox: Sandbox) -> None:
    entries = get(sandbox, "browse", path=f"{sandbox.latest}/sub/").json()
    assert [e["path"] for e in entries] == [f"{sandbox.latest}/sub/ten"]
    assert entries[0]["size"] == 10


def test_browse_of_a_file_is_an_empty_listing(sandbox: Sandbox) -> None:
    response = get(sandbox, "browse", path=f"{sandbox.latest}/stdout")
    assert response.status_code == 200 and response.json() == []


@pytest.mark.parametrize("endpoint", ["browse", "read", "download"])
def test_a_missing_or_empty_path_is_a_400(sandbox: Sandbox, endpoint: str) -> None:
    for params in ({}, {"path": ""}):
        response = get(sandbox, endpoint, **params)
        assert response.status_code == 400
        assert response.text == "Expecting 'path=value' in query.\n"


@pytest.mark.parametrize("endpoint", ["browse", "read", "download"])
def test_paths_not_attached_or_not_there_are_404(sandbox: Sandbox, endpoint: str) -> None:
    for path in ("/etc/passwd", "/frameworks", f"{sandbox.latest}/no-such-file",
                 f"/frameworks/{sandbox.framework_id}/executors/nobody/runs/latest/stdout",
                 f"{sandbox.latest}/../no-such-run/stdout"):
        response = get(sandbox, endpoint, path=path)
        assert response.status_code == 404, (path, response.text)


@pytest.mark.parametrize("endpoint", ["browse", "read", "download"])
def test_no_escape_from_the_sandbox_through_dotdot_or_symlinks(
    sandbox: Sandbox, endpoint: str
) -> None:
    depth = "/.." * 40
    for path in (f"{sandbox.latest}/root/etc/passwd", f"{sandbox.latest}/up/etc/passwd",
                 f"{sandbox.latest}{depth}/etc/passwd"):
        response = get(sandbox, endpoint, path=path)
        assert response.status_code == 400, (path, response.text)
        assert response.text.endswith("' is inaccessible.\n")


# ----- read -----


def test_read_without_offset_or_with_minus_one_gives_the_size(sandbox: Sandbox) -> None:
    for params in ({}, {"offset": -1}, {"offset": -1, "length": 3}):
        response = read(sandbox, "sub/ten", **params)
        assert response.status_code == 200
        assert response.json() == {"data": "", "offset": 10}


def test_read_with_offset_and_length(sandbox: Sandbox) -> None:
    assert read(sandbox, "sub/ten", offset=0).json() == {"data": "0123456789", "offset": 0}
    assert read(sandbox, "sub/ten", offset=2, length=3).json() == {"data": "234", "offset": 2}
    assert read(sandbox, "sub/ten", offset=7, length=100).json() == {"data": "789", "offset": 7}
    assert read(sandbox, "sub/ten", offset=4, length=-1).json() == {"data": "456789",
                                                                    "offset": 4}
    assert read(sandbox, "stderr", offset=0).json() == {"data": "oops", "offset": 0}
    assert read(sandbox, "ten-link", offset=8).json() == {"data": "89", "offset": 8}
    assert read(sandbox, "sub/ten", offset="0x3", length="0x2").json() == {"data": "34",
                                                                           "offset": 3}


def test_read_at_or_past_the_end_and_of_no_length_is_empty(sandbox: Sandbox) -> None:
    assert read(sandbox, "sub/ten", offset=10).json() == {"data": "", "offset": 10}
    assert read(sandbox, "sub/ten", offset=50, length=5).json() == {"data": "", "offset": 50}
    assert read(sandbox, "sub/ten", offset=3, length=0).json() == {"data": "", "offset": 3}


def test_read_is_capped_at_sixteen_pages(sandbox: Sandbox) -> None:
    whole = read(sandbox, "big", offset=0).json()
    assert whole["offset"] == 0 and len(whole["data"]) == PAGES_16
    asked = read(sandbox, "big", offset=10, length=BIG).json()
    assert len(asked["data"]) == PAGES_16
    tail = read(sandbox, "big", offset=PAGES_16).json()
    assert len(tail["data"]) == BIG - PAGES_16


@pytest.mark.parametrize(("params", "text"), [
    ({"offset": -2}, "Negative offset provided: -2.\n"),
    ({"offset": 0, "length": -5}, "Negative length provided: -5.\n"),
    ({"offset": "abc"}, "Failed to parse offset: Failed to convert 'abc' to number.\n"),
    ({"offset": ""}, "Failed to parse offset: Failed to convert '' to number.\n"),
    ({"offset": 0, "length": "1.5"},
     "Failed to parse length: Failed to convert '1.5' to number.\n"),
])
def test_read_rejects_bad_numbers(sandbox: Sandbox, params: dict[str, Any], text: str) -> None:
    response = read(sandbox, "sub/ten", **params)
    assert response.status_code == 400 and response.text == text


def test_read_of_a_directory_is_a_400(sandbox: Sandbox) -> None:
    response = read(sandbox, "sub", offset=0)
    assert response.status_code == 400 and response.text == "Cannot read a directory.\n"


def test_read_with_jsonp_wraps_the_object(sandbox: Sandbox) -> None:
    response = read(sandbox, "sub/ten", offset=0, length=2, jsonp="cb")
    assert response.status_code == 200
    assert response.text == 'cb({"data":"01","offset":0});'


# ----- download -----


def test_download_gives_the_raw_file_as_an_attachment(sandbox: Sandbox) -> None:
    response = get(sandbox, "download", path=f"{sandbox.latest}/sub/ten")
    assert response.status_code == 200 and response.content == b"0123456789"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == "attachment; filename=ten"
    big = get(sandbox, "download", path=f"{sandbox.latest}/big")
    assert len(big.content) == BIG


def test_download_of_a_directory_is_a_400(sandbox: Sandbox) -> None:
    response = get(sandbox, "download", path=sandbox.latest)
    assert response.status_code == 400 and response.text == "Cannot download a directory.\n"


def test_sandbox_outlives_its_task(scheduler: RawScheduler, sandbox: Sandbox) -> None:
    # The agent keeps a finished executor's sandbox attached until it garbage collects it.
    launch(scheduler, lambda o: command_task("short", o, "echo done; exit 3"))
    scheduler.wait_update("short", "TASK_FAILED")
    box = Sandbox(sandbox.agent, sandbox.framework_id, "short", "")
    assert read(box, "stdout", offset=0).json() == {"data": "done\n", "offset": 0}
