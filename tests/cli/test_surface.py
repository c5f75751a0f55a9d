"""What the command shows of itself: help for every flag, its version, `python -m femto`,
and client commands that leave the server stack unimported."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib.metadata import version

from femto.cli.parser import SERVE, build_parser
from femto.jobs.operations import operation_names
from femto.service import Service
from tests.cli.helpers import client_env, femto

SERVER_STACK = ("fastapi", "uvicorn", "starlette", "femto.service", "femto.engine",
                "femto.api", "numpy", "pydantic")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in subcommands(sub).items()})
    return found


def test_help_explains_every_flag_and_lists_the_operations() -> None:
    parser = build_parser()
    for name, sub in {"femto": parser, **subcommands(parser)}.items():
        for action in sub._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, (name, action.option_strings or action.dest)
    shown = femto(None, "--help").stdout
    assert f"operations (a job spec's \"operation\"): {', '.join(operation_names())}" in \
        " ".join(shown.split())
    for command in ("serve", "run", "submit", "watch", "jobs", "status", "tasks", "cancel",
                    "result", "logs", "dataset", "workflow", "workflows"):
        assert f"\n    {command} " in shown, command
    serve_help = " ".join(femto(None, "serve", "--help").stdout.split())
    for setting in SERVE:
        assert f"${setting.variable})" in serve_help, setting.flag


def test_version_and_python_dash_m_femto() -> None:
    assert femto(None, "--version").stdout == f"femto {version('femto')}\n"
    module = subprocess.run([sys.executable, "-m", "femto", "--version"], capture_output=True,
                            text=True, cwd="/", timeout=60)
    assert module.returncode == 0 and module.stdout == f"femto {version('femto')}\n"


def test_client_commands_do_not_import_the_server(served: Service) -> None:
    probe = (
        "import json, sys\n"
        "from femto.cli import main\n"
        "codes = [main(['jobs']), main(['dataset', 'list']), main(['--json', 'jobs']),\n"
        "         main(['workflows']), main(['--json', 'workflows'])]\n"
        "print(json.dumps({'codes': codes, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=client_env(served), timeout=60)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["codes"] == [0, 0, 0, 0, 0], done.stderr
    loaded = [m for m in report["modules"]
              if any(m == s or m.startswith(s + ".") for s in SERVER_STACK)]
    assert loaded == []
    assert "femto.cli.commands" in report["modules"]  # the probe did run the commands
