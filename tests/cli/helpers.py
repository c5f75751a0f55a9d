"""Running the `femto` console script as a user would."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from femto.service import Service

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FEMTO = shutil.which("femto", path=str(Path(sys.executable).parent)) or "femto"
TOKEN = "t0ken"


def client_env(service: Service | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEMTO_")}
    if service is not None:
        env.update(FEMTO_URL=service.url, FEMTO_API_TOKEN=TOKEN)
    env.update(extra)
    return env


def femto(service: Service | None, *args: str, check: bool = True, timeout: float = 120,
          env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([FEMTO, *args], capture_output=True, text=True, timeout=timeout,
                          env=env or client_env(service), cwd=cwd)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def femto_json(service: Service | None, *args: str) -> Any:
    return json.loads(femto(service, "--json", *args).stdout)


def a_mistake(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """How every user mistake ends: exit 1 and one line `femto: ...` naming it."""
    assert done.returncode == 1, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("femto: "), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in lines[-1], (word, done.stderr)


def save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def write_spec(path: Path, **spec: Any) -> Path:
    path.write_text(json.dumps(spec))
    return path


def on_a_terminal(service: Service | None, *args: str,
                  timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`femto ARGS` as a person runs it, stdout a terminal (a pty; stderr still captured):
    what the terminal showed, read as it comes so that the program never blocks on a full
    one, without its control sequences."""
    controller, terminal = pty.openpty()
    started = subprocess.Popen([FEMTO, *args], stdout=terminal, stderr=subprocess.PIPE,
                               env=client_env(service, COLUMNS="120", TERM="xterm"),
                               text=True)
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([controller], [], [], 1.0)[0]:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's last writer has gone
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    _, stderr = started.communicate(timeout=max(1.0, deadline - time.monotonic()))
    text = ANSI.sub("", shown.decode()).replace("\r\n", "\n")
    return subprocess.CompletedProcess(started.args, started.returncode, text, stderr)
