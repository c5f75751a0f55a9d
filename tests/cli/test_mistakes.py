"""Ordinary mistakes end in one line on stderr and exit 1, never in a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np

from femto.service import Service
from tests.cli.helpers import (
    FEMTO,
    TOKEN,
    a_mistake,
    client_env,
    femto,
    femto_json,
    save,
    write_spec,
)
from tests.framework.helpers import wait_done
from tests.services import free_port


def test_dataset_put_of_a_missing_file(served: Service, tmp_path: Path) -> None:
    a_mistake(femto(served, "dataset", "put", "d", str(tmp_path / "missing.npy"), check=False),
              f"cannot read {tmp_path / 'missing.npy'}: No such file or directory")


def test_dataset_get_into_a_missing_directory_is_refused_before_the_download(
    served: Service, tmp_path: Path,
) -> None:
    target = tmp_path / "nowhere" / "out.npy"
    # The dataset does not exist either: the directory is named, so it was checked first.
    a_mistake(femto(served, "dataset", "get", "no-such-data", "-o", str(target), check=False),
              f"no directory {tmp_path / 'nowhere'}")
    a_mistake(femto(served, "dataset", "get", "no-such-data", "-o", str(tmp_path),
                    check=False), "is a directory")


def test_run_names_a_missing_data_file_before_starting_a_cluster(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "j.json", name="j", operation="sum", inputs=["d"])
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = femto(None, "run", str(spec), "--data", f"d={tmp_path / 'missing.npy'}",
                 check=False, env=client_env(TMPDIR=str(scratch)))
    a_mistake(done, f"--data d: cannot read {tmp_path / 'missing.npy'}")
    assert list(scratch.iterdir()) == []  # no cluster's state directory was ever made


def test_run_names_an_input_without_data(tmp_path: Path) -> None:
    # A spec of the user's own whose input is called like an example's: no data is made up.
    spec = write_spec(tmp_path / "mine.json", name="m", operation="mean", inputs=["signal"])
    a_mistake(femto(None, "run", str(spec), check=False),
              "input 'signal' has no data: give --data signal=FILE.npy")
    save(tmp_path / "x.npy", np.arange(3.0))
    # A misspelt name: told so, with the names the job does read.
    a_mistake(femto(None, "run", str(spec), "--data", "sig=" + str(tmp_path / "x.npy"),
                    check=False), "--data sig:", "(its inputs: signal)")
    bad = write_spec(tmp_path / "bad.json", name="b", operation="nope", inputs=["x"])
    a_mistake(femto(None, "run", str(bad), check=False), "unknown operation 'nope'")


def test_serve_on_an_unreachable_mongodb(tmp_path: Path) -> None:
    store = f"mongodb://127.0.0.1:{free_port()}/femto?serverSelectionTimeoutMS=300"
    done = femto(None, "serve", "--state-dir", str(tmp_path), "--listen", "127.0.0.1:0",
                 "--store", store, check=False, timeout=60)
    a_mistake(done, "cannot start: mongodb", "Connection refused")
    assert len(done.stderr) < 400, done.stderr  # not pymongo's topology description
    assert len(done.stderr.splitlines()) == 1, done.stderr  # nor a log line before it


def test_a_bad_log_level_and_other_usage_mistakes(served: Service) -> None:
    a_mistake(femto(served, "--log-level", "loud", "jobs", check=False),
              "--log-level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    a_mistake(femto(served, "jobs", check=False, env=client_env(served, FEMTO_LOG_LEVEL="x")),
              "$FEMTO_LOG_LEVEL='x'")
    a_mistake(femto(served, "serve", "--agents", "0", check=False),
              "--agents: must be at least 1")
    a_mistake(femto(served, "frobnicate", check=False), "invalid choice: 'frobnicate'")
    a_mistake(femto(served, check=False), "required")


def test_result_into_a_pipe_closed_early(served: Service, tmp_path: Path) -> None:
    femto(served, "dataset", "put", "pipe", str(save(tmp_path / "d.npy", np.arange(100.0))))
    spec = write_spec(tmp_path / "h.json", name="wide", operation="histogram", inputs=["pipe"],
                      params={"bins": 20_000, "range": [0, 100]})
    job = femto_json(served, "submit", str(spec))
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        wait_done(api, job["id"])
    # `femto result ID | head -1`: 20,000 chart rows, far more than a pipe holds.
    reader = subprocess.Popen([FEMTO, "result", job["id"]], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=client_env(served))
    assert reader.stdout is not None and reader.stderr is not None
    assert reader.stdout.readline().startswith(b"histogram of 100 values")
    reader.stdout.close()
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 1
    assert stderr == ""


def test_watch_of_an_unreachable_scheduler_is_named_at_once() -> None:
    a_mistake(femto(None, "watch", "some-job", timeout=20, check=False,
                    env=client_env(FEMTO_URL="http://127.0.0.1:9")),
              "cannot reach femto at http://127.0.0.1:9")


def test_localmesos_on_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "localmesos", "--listen",
                               f"127.0.0.1:{port}"], capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"localmesos: could not start: [Errno 98] cannot listen on "
        f"127.0.0.1:{port}: Address already in use"]
