"""A look at a file in a watched directory: its size, change time and .npy header."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from femto.jobs.datasets import NPY_HEADER_ERRORS, read_npy_header
from femto.triggers.rules import Seen


@dataclass(frozen=True, slots=True)
class Header:
    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int  # where the data starts

    @property
    def length(self) -> int:
        """The whole file's length in bytes, as the header says."""
        return self.offset + math.prod(self.shape) * self.dtype.itemsize


def read_header(path: str) -> Header | None:
    """The .npy header, or None while it is not all there (or never will be: not a .npy)."""
    try:
        with open(path, "rb") as file:
            shape, _, dtype = read_npy_header(file)
            offset = file.tell()
    except NPY_HEADER_ERRORS:
        return None
    if dtype.hasobject or not shape:
        return None  # pickled objects, or a scalar: no dataset of rows
    return Header(dtype, tuple(shape), offset)


def look(path: str) -> Seen | None:
    """The file as it is now; None if it is gone or not a regular file."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    header = read_header(path)
    return Seen(stat.st_size, stat.st_mtime_ns, header.length if header else None)
