"""A mistake the user can fix: `main` prints it as one line, `femto: ...`, and exits 1."""

from __future__ import annotations


class UserError(Exception):
    pass
