"""Read a task's input partitions: from the local disk when the file is here, else over HTTP."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from femto.executor.httpio import Api, request
from femto.jobs.arrays import ArrayError, read_rows
from femto.jobs.datasets import load_npy
from femto.jobs.wire import PartitionRef


class InputError(Exception):
    """An input partition cannot be read, or is not what the payload says it is."""


def local_path(ref: PartitionRef) -> Path | None:
    """The partition's file (a Zarr array's directory) if its `uri` names one that exists
    on this machine."""
    if ref.uri is None:
        return None
    path = Path(unquote(urlparse(ref.uri).path))
    return path if path.is_file() or (ref.format == "zarr" and path.is_dir()) else None


def _where(ref: PartitionRef) -> str:
    return ref.uri or ref.url or "?"


def read_partition(ref: PartitionRef, api: Api) -> np.ndarray:
    """The whole partition; a local file is memory-mapped, not read into memory."""
    path = local_path(ref)
    if path is not None and ref.rows is not None:
        try:
            array = read_rows(ref.format, path, ref.path, *ref.rows)
        except ArrayError as exc:
            raise InputError(f"cannot read rows {ref.rows[0]}:{ref.rows[1]} of {path}: "
                             f"{exc}") from exc
    elif path is not None:
        try:
            # An empty file region cannot be memory-mapped, so empty partitions are read plainly.
            array = np.load(path, mmap_mode="r" if ref.length else None, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {path} as .npy: {exc}") from exc
    elif ref.url is not None:
        response = request(api, "GET", ref.url)
        try:
            array = load_npy(response.content)
        except ValueError as exc:
            raise InputError(f"GET {ref.url} did not return a valid .npy: {exc}") from exc
    else:
        raise InputError(f"{ref.uri} does not exist on this machine and the partition has no url")
    if array.ndim == 0 or array.shape[0] != ref.length:
        shape = "a scalar" if array.ndim == 0 else f"{array.shape[0]} elements"
        raise InputError(f"{_where(ref)}: expected {ref.length} elements, found {shape}")
    if array.dtype != np.dtype(ref.dtype):
        raise InputError(f"{_where(ref)}: expected dtype {ref.dtype}, found {array.dtype}")
    return array


def read_left_tail(refs: list[PartitionRef], need: int, api: Api) -> np.ndarray | None:
    """The last `need` elements before this partition, from `refs` (nearest partition last).

    Only the partitions that contribute are read. None when nothing precedes this partition
    or nothing is needed; shorter than `need` near the start of the dataset.
    """
    if need <= 0 or not refs:
        return None
    pieces: list[np.ndarray] = []
    remaining = need
    for ref in reversed(refs):
        if remaining == 0:
            break
        if ref.length == 0:
            continue
        take = min(remaining, ref.length)
        if ref.rows is not None and local_path(ref) is not None:
            # Only the tail rows are read from the array (its url serves the whole range).
            stop = ref.rows[1]
            ref = ref.model_copy(update={"rows": (stop - take, stop), "length": take})
        # Slicing a memory map reads only the tail pages from disk.
        pieces.append(
            np.array(read_partition(ref, api)[-take:])
        )
        remaining -= take
    if not pieces:
        return np.empty(0, dtype=np.dtype(refs[-1].dtype))
    return np.concatenate(pieces[::-1])
