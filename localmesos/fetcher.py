"""A minimal Mesos fetcher: `CommandInfo.uris` that name local files (`file://` URIs and
absolute paths) are copied into the sandbox before the executor or command starts, as
docs/fetcher.md and src/launcher/fetcher.cpp describe: `executable` makes the copy
executable (and skips extraction), `extract` (default true) unpacks archives beside the copy,
`output_file` names the copy. No cache, no HTTP, HDFS or other schemes: those fail the fetch.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

TAR_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz")


class FetchError(Exception):
    pass


def fetch(uris: list[dict[str, Any]], sandbox: Path) -> None:
    """Fetches every URI into `sandbox`, in order; FetchError names the first that fails."""
    sandbox.mkdir(parents=True, exist_ok=True)
    for uri in uris:
        value = uri.get("value")
        if not isinstance(value, str) or not value:
            raise FetchError(f"CommandInfo.URI without a value: {uri!r}")
        try:
            _fetch_one(uri, value, sandbox)
        except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
            raise FetchError(f"Failed to fetch '{value}': {exc}") from exc


def _fetch_one(uri: dict[str, Any], value: str, sandbox: Path) -> None:
    source = _local_path(value)
    name = uri.get("output_file") or source.name
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise FetchError(f"Failed to fetch '{value}': output_file '{name}' is not a plain "
                         "path inside the sandbox")
    target = sandbox / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    if uri.get("executable", False):
        mode = os.stat(target).st_mode
        os.chmod(target, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    elif uri.get("extract", True):
        _extract(target, sandbox)


def _local_path(value: str) -> Path:
    parsed = urlparse(value)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise FetchError(f"Failed to fetch '{value}': only local file:// URIs are supported")
        return Path(unquote(parsed.path))
    if parsed.scheme:
        raise FetchError(
            f"Failed to fetch '{value}': localmesos fetches file:// URIs and absolute paths only"
        )
    if not value.startswith("/"):
        # The real fetcher resolves it against the deprecated --frameworks_home.
        raise FetchError(f"Failed to fetch '{value}': a relative path needs a frameworks home")
    return Path(value)


def _extract(archive: Path, sandbox: Path) -> None:
    name = archive.name
    if name.endswith(TAR_SUFFIXES):
        with tarfile.open(archive) as tar:
            tar.extractall(sandbox, filter="data")
    elif name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(sandbox)
    elif name.endswith(".gz"):
        with gzip.open(archive, "rb") as packed, open(archive.with_suffix(""), "wb") as out:
            shutil.copyfileobj(packed, out)
