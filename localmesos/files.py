"""An agent's sandbox file API, as Mesos' `src/files/files.cpp` serves it.

Real directories are attached under virtual paths; `/files/browse`, `/files/read`,
`/files/download` and `/files/debug` resolve a virtual path by its longest attached prefix
and never leave the attached directory (`..` and symlinks included).
"""

from __future__ import annotations

import grp
import json
import logging
import mimetypes
import os
import pwd
import re
import stat
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

# files.cpp caps one read at 16 pages.
MAX_READ = os.sysconf("SC_PAGESIZE") * 16
OFF_T_MAX = (1 << 63) - 1

# What stout's numify<off_t> accepts: decimal (boost::lexical_cast) or hexadecimal with 0x.
_DECIMAL = re.compile(r"[+-]?[0-9]+")
_HEX = re.compile(r"-?0[xX][0-9a-fA-F]+")

_FILE_TYPES = (
    (stat.S_ISREG, "-"), (stat.S_ISDIR, "d"), (stat.S_ISCHR, "c"), (stat.S_ISBLK, "b"),
    (stat.S_ISFIFO, "p"), (stat.S_ISLNK, "l"), (stat.S_ISSOCK, "s"),
)


class Invalid(Exception):
    """A path that resolves outside its attached directory, or cannot be resolved (400)."""


class Files:
    """The virtual path -> real path map of one agent (FilesProcess::paths)."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}

    def attach(self, real: Path, virtual: str) -> None:
        """Expose `real` (which must exist) as `virtual`; a later attach of the same name wins."""
        self.paths[virtual.rstrip("/")] = os.path.realpath(real, strict=True)

    def attach_executor(self, directory: Path, framework_id: str, executor_id: str) -> None:
        """Creates an executor's run directory and the `latest` symlink beside it, and exposes
        it as the agent does (slave.cpp Framework::addExecutor): by its real path, by the
        `runs/latest` path in the work dir, and as `/frameworks/FID/executors/EID/runs/latest`."""
        latest = directory.parent / "latest"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # Replaced atomically: a reader never finds the link missing (paths.cpp removes
            # it and links again).
            staged = directory.parent / f".latest-{directory.name}"
            staged.unlink(missing_ok=True)
            staged.symlink_to(directory)
            staged.replace(latest)
        except OSError as exc:
            # The launch itself fails on it, and reports why; only the files API goes without.
            log.error("cannot make the sandbox %s: %s", directory, exc)
            return
        self.attach(directory, str(directory))
        self.attach(directory, str(latest))
        self.attach(directory, executor_virtual_path(framework_id, executor_id))

    def resolve(self, virtual: str) -> str | None:
        """The real path of `virtual`, None when nothing is there (404), Invalid when it would
        leave its attached directory or cannot be canonicalised (FilesProcess::resolve)."""
        tokens = virtual.rstrip("/").split("/")
        suffix: list[str] = []
        while tokens:
            prefix = "/".join(tokens)
            root = self.paths.get(prefix)
            if root is None:
                suffix.insert(0, tokens.pop())
                continue
            if not os.path.isdir(root):
                # A file attached as a directory's stand-in: files.cpp answers Not Found.
                return None if suffix else root
            joined = os.path.join(root, *suffix)
            try:
                real = os.path.realpath(joined, strict=True)
            except (FileNotFoundError, NotADirectoryError):
                return None
            except OSError as exc:
                raise Invalid(
                    f"Failed to determine canonical path of '{joined}': {exc.strerror}"
                ) from None
            if real != root and not real.startswith(root.rstrip("/") + "/"):
                raise Invalid(f"'{joined}' is inaccessible")
            return real
        return None


def executor_virtual_path(framework_id: str, executor_id: str) -> str:
    """paths.cpp getExecutorVirtualPath."""
    return f"/frameworks/{framework_id}/executors/{executor_id}/runs/latest"


def file_info(path: str, st: os.stat_result) -> dict[str, Any]:
    """One browse entry, as common/http.cpp `model(const FileInfo&)` writes it."""
    kind = next((letter for test, letter in _FILE_TYPES if test(st.st_mode)), "-")
    bits = "".join(
        letter if st.st_mode & mask else "-"
        for mask, letter in zip(
            (stat.S_IRUSR, stat.S_IWUSR, stat.S_IXUSR, stat.S_IRGRP, stat.S_IWGRP,
             stat.S_IXGRP, stat.S_IROTH, stat.S_IWOTH, stat.S_IXOTH),
            "rwxrwxrwx",
            strict=True,
        )
    )
    try:
        uid = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        uid = str(st.st_uid)
    try:
        gid = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        gid = str(st.st_gid)
    return {
        "gid": gid, "mode": kind + bits, "mtime": int(st.st_mtime), "nlink": st.st_nlink,
        "path": path, "size": st.st_size, "uid": uid,
    }


def _numify(text: str) -> int | None:
    if _DECIMAL.fullmatch(text):
        value = int(text)
    elif _HEX.fullmatch(text):
        value = int(text, 16)
    else:
        return None
    return value if -OFF_T_MAX - 1 <= value <= OFF_T_MAX else None


def _text(status: int, body: str = "") -> Response:
    return Response(body, status_code=status, media_type="text/plain; charset=utf-8")


def _json(request: Request, value: Any) -> Response:
    body = json.dumps(value, separators=(",", ":"), sort_keys=True)
    jsonp = request.query_params.get("jsonp")
    if jsonp is not None:
        return Response(f"{jsonp}({body});", media_type="text/javascript")
    return Response(body, media_type="application/json")


class _Rejected(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _path(request: Request) -> str:
    path = request.query_params.get("path")
    if not path:
        raise _Rejected(_text(400, "Expecting 'path=value' in query.\n"))
    # path::from_uri: a file:// URI names the same path.
    return path.removeprefix("file://")


def _resolved(files: Files, path: str) -> str:
    try:
        real = files.resolve(path)
    except Invalid as exc:
        raise _Rejected(_text(400, f"{exc}.\n")) from None
    if real is None:
        raise _Rejected(_text(404))
    return real


def _number(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    value = _numify(text)
    if value is None:
        raise _Rejected(
            _text(400, f"Failed to parse {name}: Failed to convert '{text}' to number.\n")
        )
    if value < -1:
        raise _Rejected(_text(400, f"Negative {name} provided: {value}.\n"))
    return value


def browse(files: Files, request: Request) -> Response:
    path = _path(request)
    real = _resolved(files, path)
    entries: dict[str, dict[str, Any]] = {}
    try:
        names = os.listdir(real)
    except OSError:
        names = []  # os::ls of a file fails, and browse lists nothing
    for name in names:
        full = os.path.join(real, name)
        try:
            st = os.stat(full)
        except OSError:
            continue  # gone between the listing and the stat, as files.cpp skips it
        entries[full] = file_info(path.rstrip("/") + "/" + name, st)
    return _json(request, [entries[key] for key in sorted(entries)])


def read(files: Files, request: Request) -> Response:
    path = _path(request)
    requested = _number(request, "offset")
    offset = -1 if requested is None else requested
    length = _number(request, "length")
    if length == -1:
        length = None  # the web UI's pailer asks for -1: read to the end, capped
    start = offset
    if offset == -1:
        # The pailer's first call asks only how long the file is.
        start, length = 0, 0
    real = _resolved(files, path)
    if os.path.isdir(real):
        return _text(400, "Cannot read a directory.\n")
    try:
        with open(real, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            data = b""
            if start < size and length != 0:
                want = min(size - start if length is None else length, MAX_READ)
                f.seek(start)
                data = f.read(want)
    except OSError as exc:
        return _text(500, f"Failed to open file at '{real}': {exc.strerror}.\n")
    # Bytes as text: real Mesos puts the raw bytes in the JSON string; invalid UTF-8
    # becomes U+FFFD here so the body stays valid JSON.
    return _json(request, {
        "data": data.decode("utf-8", errors="replace"),
        "offset": size if offset == -1 else offset,
    })


def download(files: Files, request: Request) -> Response:
    real = _resolved(files, _path(request))
    if os.path.isdir(real):
        return _text(400, "Cannot download a directory.\n")
    media, _ = mimetypes.guess_type(real, strict=False)
    return FileResponse(
        real,
        media_type=media or "application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename={os.path.basename(real)}"},
    )


def debug(files: Files, request: Request) -> Response:
    return _json(request, dict(files.paths))


def files_routes(files: Files) -> list[Route]:
    """The agent's `/files/*` endpoints."""

    def endpoint(handler: Any) -> Any:
        async def serve(request: Request) -> Response:
            try:
                response: Response = handler(files, request)
            except _Rejected as exc:
                return exc.response
            return response

        return serve

    return [
        Route(f"/files/{name}", endpoint(handler), methods=["GET"])
        for name, handler in (
            ("browse", browse), ("read", read), ("download", download), ("debug", debug)
        )
    ]
