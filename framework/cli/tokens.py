"""The API's bearer token: read from a file, never from the command line, where every user
of the host sees it in `ps`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from femto.cli.errors import UserError


def read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read --api-token-file: {exc}") from None
    if not token:
        raise UserError(f"--api-token-file {path} is empty")
    return token


def api_token(args: argparse.Namespace) -> str | None:
    """The token from --api-token-file, else $FEMTO_API_TOKEN."""
    if args.api_token_file is None:
        return os.environ.get("FEMTO_API_TOKEN") or None
    return read_token_file(args.api_token_file)
