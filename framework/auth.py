"""Who a request comes from: API tokens, each with a name and a role.

Roles, from least to most: `read` sees every job and dataset and changes nothing;
`submit` uploads datasets and submits jobs, and sees and cancels only its own jobs;
`command` is `submit` that may also run the `command` operation on a scheduler reachable
beyond loopback; `admin` may do everything. A scheduler without tokens (loopback only,
the embedded default) treats every client as `admin`.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Role(StrEnum):
    READ = "read"
    SUBMIT = "submit"
    COMMAND = "command"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role

    @property
    def may_write(self) -> bool:
        return self.role is not Role.READ

    @property
    def sees_all(self) -> bool:
        return self.role in (Role.READ, Role.ADMIN)

    @property
    def may_run_commands(self) -> bool:
        return self.role in (Role.COMMAND, Role.ADMIN)

    @property
    def owner_filter(self) -> str | None:
        """The owner whose jobs alone this principal may see, or None for all."""
        return None if self.sees_all else self.name


ANYONE = Principal("anyone", Role.ADMIN)  # a scheduler without tokens
_LINE = re.compile(r"(?P<name>[A-Za-z0-9._-]{1,64})\s+(?P<role>\S+)\s+(?P<token>\S{16,})")


class Tokens:
    """The tokens a scheduler accepts, each naming its principal."""

    def __init__(self, principals: dict[str, Principal]) -> None:
        if not principals:
            raise ValueError("no tokens given")
        self._by_token = {token.encode(): p for token, p in principals.items()}

    @classmethod
    def single(cls, token: str) -> Tokens:
        """One token (--api-token, --api-token-file, $FEMTO_API_TOKEN): the admin's."""
        return cls({token: Principal("admin", Role.ADMIN)})

    @classmethod
    def from_file(cls, path: Path) -> Tokens:
        """Lines of `NAME ROLE TOKEN` (tokens of 16 characters or more); `#` comments."""
        principals: dict[str, Principal] = {}
        names: set[str] = set()
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            match = _LINE.fullmatch(line)
            where = f"{path}:{number}"
            if match is None:
                raise ValueError(f"{where}: expected NAME ROLE TOKEN (a token of at least "
                                 "16 characters)")
            try:
                role = Role(match["role"])
            except ValueError:
                raise ValueError(f"{where}: unknown role {match['role']!r}; one of "
                                 f"{', '.join(r.value for r in Role)}") from None
            if match["name"] in names or match["token"] in principals:
                raise ValueError(f"{where}: the name or the token is given twice")
            names.add(match["name"])
            principals[match["token"]] = Principal(match["name"], role)
        return cls(principals)

    def authenticate(self, authorization: str) -> Principal | None:
        """The principal of an `Authorization: Bearer TOKEN` header, or None. Every token is
        compared, in constant time, so timing tells nothing of which one came close."""
        scheme, _, token = authorization.partition(" ")
        given = token.strip().encode()
        found = None
        for candidate, principal in self._by_token.items():
            if hmac.compare_digest(given, candidate) and scheme == "Bearer":
                found = principal
        return found
