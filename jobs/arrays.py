"""Arrays read in place: a `.npy` file, an HDF5 dataset or a Zarr array, read by row range.

The scheduler reads an array's header to register it; an executor reads only its own rows.
h5py and zarr are optional extras, imported only when their format is used, so femto with
neither installed still reads `.npy`.
"""

from __future__ import annotations

import importlib
import itertools
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Literal

import numpy as np

from femto.jobs.datasets import NPY_HEADER_ERRORS, check_dtype, read_npy_header

Format = Literal["npy", "hdf5", "zarr"]
FORMATS: tuple[Format, ...] = ("npy", "hdf5", "zarr")
# format -> (the module it needs, the extra that installs it)
EXTRAS: dict[str, tuple[str, str]] = {"hdf5": ("h5py", "hdf5"), "zarr": ("zarr", "zarr")}


class ArrayError(ValueError):
    """The file is not the array it is said to be, or cannot be read; the message says why."""


class MissingExtra(ArrayError):
    """The format's library is not installed here; the message names the pip command."""


@dataclass(frozen=True, slots=True)
class ArrayInfo:
    dtype: np.dtype
    shape: tuple[int, ...]


def library(fmt: str) -> ModuleType | None:
    """The module `fmt` is read with (None for npy); MissingExtra naming the extra."""
    if fmt not in EXTRAS:
        return None
    module, extra = EXTRAS[fmt]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(f"format {fmt!r} needs {module}, which is not installed: "
                           f"pip install 'femto[{extra}]'") from exc


def row_ranges(rows: int, k: int) -> list[tuple[int, int]]:
    """[start, stop) of each of k partitions, split as numpy.array_split splits."""
    if k < 1:
        raise ValueError(f"partitions must be >= 1, got {k}")
    if 0 < rows < k:
        raise ValueError(f"cannot split {rows} rows into {k} partitions")
    size, extra = divmod(rows, k)
    bounds = [0]
    for i in range(k):
        bounds.append(bounds[-1] + size + (1 if i < extra else 0))
    return list(itertools.pairwise(bounds))


def _npy(path: Path) -> Any:
    try:
        with path.open("rb") as stream:
            shape, fortran, dtype = read_npy_header(stream)
            offset = stream.tell()
            size = path.stat().st_size
    except NPY_HEADER_ERRORS as exc:
        raise ArrayError(f"{path} is not a readable .npy file: {exc}") from exc
    if dtype.hasobject:
        raise ArrayError(f"{path} holds an object array, which is refused: it would unpickle")
    if fortran and len(shape) > 1:
        raise ArrayError(f"{path} is in Fortran order: its rows are not contiguous")
    claimed = math.prod(shape) * dtype.itemsize
    if size - offset != claimed:
        raise ArrayError(f"{path}: its header claims shape {tuple(shape)} of {dtype.str} "
                         f"({claimed} bytes), but {size - offset} bytes of data follow it")
    return shape, dtype, offset


def _hdf5(path: Path | IO[bytes], array_path: str | None) -> Any:
    h5py: Any = library("hdf5")
    if not array_path:
        raise ArrayError("an hdf5 dataset needs the `path` of its array in the file")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ArrayError(f"{path} is not a readable HDF5 file: {exc}") from exc
    node = handle.get(array_path)
    if not isinstance(node, h5py.Dataset):
        handle.close()
        raise ArrayError(f"{path} holds no dataset at {array_path!r}")
    # Data kept in other files (an external link, external raw storage, a virtual
    # dataset) could lie outside every --data-root, so only the file's own is read.
    if node.file.id != handle.id or node.external or node.is_virtual:
        handle.close()
        raise ArrayError(f"{array_path!r} in {path} keeps its data in another file, "
                         "which is refused: only data inside the registered file is read")
    return handle, node


def _zarr(path: Path, array_path: str | None) -> Any:
    zarr: Any = library("zarr")
    try:
        return zarr.open_array(store=str(path), mode="r", path=array_path or "")
    except Exception as exc:  # zarr raises several of its own kinds for "no array here"
        raise ArrayError(f"{path} holds no Zarr array at {array_path or '/'!r}: {exc}") from exc


def _no_links_out(directory: Path) -> None:
    """A Zarr directory whose symlinks all stay inside it: a chunk linked to a file
    elsewhere would be read (and served) from outside every --data-root."""
    inside = directory.resolve()
    for folder, dirs, files in os.walk(directory):
        for name in (*dirs, *files):
            entry = Path(folder, name)
            if entry.is_symlink() and not entry.resolve().is_relative_to(inside):
                raise ArrayError(f"{entry} links out of the Zarr array {directory}, "
                                 "which is refused")


def inspect(fmt: str, path: Path, array_path: str | None = None) -> ArrayInfo:
    """dtype and shape, from the header only; ArrayError when it is no usable array."""
    if fmt == "npy":
        shape, dtype, _ = _npy(path)
        info = ArrayInfo(dtype, tuple(shape))
    elif fmt == "hdf5":
        handle, node = _hdf5(path, array_path)
        with handle:
            info = ArrayInfo(node.dtype, tuple(node.shape))
    elif fmt == "zarr":
        _no_links_out(path)
        array = _zarr(path, array_path)
        info = ArrayInfo(np.dtype(array.dtype), tuple(array.shape))
    else:
        raise ArrayError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if not info.shape:
        raise ArrayError(f"{path} holds a 0-d array: a dataset needs at least one axis")
    try:
        check_dtype(info.dtype)
    except ValueError as exc:
        raise ArrayError(f"{path}: {exc}") from exc
    return info


def read_rows(fmt: str, path: Path, array_path: str | None, start: int,
              stop: int) -> np.ndarray:
    """Rows [start, stop) and nothing else. A .npy is memory-mapped, so only the pages of
    the rows are read, and only when used."""
    if fmt == "npy":
        shape, dtype, offset = _npy(path)
        _check_rows(path, shape, start, stop)
        rows = (stop - start, *shape[1:])
        if not all(rows):  # an empty region cannot be memory-mapped
            return np.empty(rows, dtype=dtype)
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        try:
            return np.memmap(path, dtype=dtype, mode="r", offset=offset + start * row_bytes,
                             shape=rows)
        except (OSError, ValueError) as exc:
            raise ArrayError(f"cannot map rows {start}:{stop} of {path}: {exc}") from exc
    if fmt == "hdf5":
        return read_hdf5_rows(path, array_path, start, stop)
    if fmt == "zarr":
        array = _zarr(path, array_path)
        _check_rows(path, array.shape, start, stop)
        return np.asarray(array[start:stop])
    raise ArrayError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


def read_hdf5_rows(source: Path | IO[bytes], array_path: str | None, start: int,
                   stop: int) -> np.ndarray:
    """Rows [start, stop) of an HDF5 array in a file, or in a seekable file object (a blob
    in the store), of which only the parts holding them are read."""
    handle, node = _hdf5(source, array_path)
    with handle:
        _check_rows(source, node.shape, start, stop)
        return np.asarray(node[start:stop])


def _check_rows(path: Path | IO[bytes], shape: tuple[int, ...], start: int, stop: int) -> None:
    if not shape or not 0 <= start <= stop <= shape[0]:
        raise ArrayError(f"{path} holds shape {tuple(shape)}: it has no rows {start}:{stop}")


HDF5_ARRAY = "/data"  # where femto writes an array in an HDF5 file of its own


def write_hdf5(path: Path | IO[bytes], parts: Iterable[np.ndarray], dtype: np.dtype,
               shape: tuple[int, ...], array_path: str = HDF5_ARRAY) -> None:
    """One contiguous HDF5 dataset of `shape`, written part after part (rows in order), so
    only one part is in memory at a time. MissingExtra without h5py."""
    h5py: Any = library("hdf5")
    with h5py.File(path, "w") as f:
        target = f.create_dataset(array_path, shape=shape, dtype=dtype)
        row = 0
        for part in parts:
            target[row:row + len(part)] = part
            row += len(part)
    if row != shape[0]:
        raise ArrayError(f"wrote {row} rows of {shape[0]} into {path}")
