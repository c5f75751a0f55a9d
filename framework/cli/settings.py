"""Flags that an environment variable can also set: `--agents` is `$FEMTO_AGENTS`.

The command line wins over the variable, the variable over the default. A repeatable flag's
variable holds its values separated by spaces; a switch's holds 1/true/yes or 0/false/no.
Values are resolved after parsing, so a bad variable is reported under its own name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from femto.cli.errors import UserError

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def variable(flag: str) -> str:
    return "FEMTO_" + flag.lstrip("-").upper().replace("-", "_")


@dataclass(frozen=True, slots=True)
class Setting:
    flag: str
    help: str
    default: Any = None
    type: Callable[[str], Any] = str
    kind: Literal["value", "switch", "list"] = "value"
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def variable(self) -> str:
        return variable(self.flag)

    def add_to(self, parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
        """`suppress`: on a subcommand, for a flag the main parser has too, so that not
        giving it after the subcommand keeps what was given before."""
        shown = "" if self.default in (None, [], False) else f"default: {self.default}; "
        text = f"{self.help} ({shown}${self.variable})"
        unset = argparse.SUPPRESS if suppress else None
        if self.kind == "switch":
            parser.add_argument(self.flag, action="store_const", const=True, default=unset,
                                help=text)
        else:
            parser.add_argument(self.flag, type=self.type, metavar=self.metavar, default=unset,
                                action="append" if self.kind == "list" else "store", help=text)

    def from_text(self, text: str) -> Any:
        if self.kind == "switch":
            if text.lower() not in TRUE | FALSE:
                raise UserError(f"${self.variable}={text!r}: expected 1/true/yes or 0/false/no")
            return text.lower() in TRUE
        try:
            if self.kind == "list":
                return [self.type(item) for item in text.split()]
            return self.type(text)
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise UserError(f"${self.variable}={text!r}: {exc}") from None


def resolve(args: argparse.Namespace, settings: list[Setting],
            environ: Mapping[str, str]) -> None:
    """Fill each setting not given on the command line from its variable, else its default."""
    for setting in settings:
        if getattr(args, setting.dest, None) is not None:
            continue
        text = environ.get(setting.variable)
        if text is not None:
            value = setting.from_text(text)
        elif setting.kind == "list":
            value = []
        elif setting.kind == "switch":
            value = False
        else:
            value = setting.default
        setattr(args, setting.dest, value)
