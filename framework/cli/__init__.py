"""The `femto` command (DESIGN.md, Command line).

Client commands import this package, femto.client and httpx (and, to follow a job, the
event models and rich): the server stack (femto.service, FastAPI, uvicorn, the engine,
NumPy) is imported by `serve` and `run` alone, so a client command answers in a fraction
of a second.
"""

from __future__ import annotations

import os
import sys

from femto.cli.errors import UserError
from femto.cli.parser import GLOBAL, build_parser
from femto.cli.settings import resolve
from femto.client import ApiError
from femto.logs import configure_logging

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Every mistake a user can make ends in one line on stderr, `femto: ...`, and exit 1;
    Ctrl-C in 130; a closed stdout (`femto result ID | head`) quietly."""
    try:
        args = build_parser().parse_args(argv)
        resolve(args, GLOBAL, os.environ)
        configure_logging(args.log_level)
        return int(args.handler(args))
    except (UserError, ApiError) as exc:
        print(f"femto: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("femto: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Whoever read stdout has gone: nothing more to say to it, and Python's own flush
        # of stdout at exit must not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
