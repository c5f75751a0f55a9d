"""Datasets and their partitions, and the .npy encoding they travel in."""

from __future__ import annotations

import io
import math
import tokenize
from typing import IO, Annotated, Literal
from urllib.parse import unquote, urlparse

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from femto.jobs.names import Name

NPY_MAGIC = b"\x93NUMPY"

Length = Annotated[int, Field(strict=True, ge=0)]


def check_dtype(dtype: np.dtype) -> None:
    """Refuses dtypes femto's operations cannot compute on: zero-size items (any element
    count fits in no bytes), objects (they unpickle), records, sub-arrays and raw bytes."""
    if dtype.itemsize == 0:
        raise ValueError(f"dtype {dtype.str!r} has zero-size elements")
    if dtype.hasobject or dtype.kind == "V":
        raise ValueError(f"dtype {dtype.str!r} is not supported: use a plain numeric or "
                         "string dtype")


def canonical_dtype(value: str) -> str:
    """The canonical spelling of a NumPy dtype ("<f8" -> "float64"); ValueError if unusable."""
    try:
        dtype = np.dtype(value)
    except TypeError as exc:
        raise ValueError(f"unknown dtype {value!r}") from exc
    check_dtype(dtype)
    return str(dtype)


def file_uri_path(uri: str) -> str:
    """The absolute local path of a `file:///...` URI; ValueError for anything else."""
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise ValueError(f"uri must be a file:///absolute/path URI, got {uri!r}")
    path = unquote(parsed.path)
    if not path.startswith("/"):
        raise ValueError(f"uri must name an absolute path, got {uri!r}")
    if "\x00" in path:  # no file has one in its name; os calls raise on it
        raise ValueError(f"uri must not hold a NUL byte, got {uri!r}")
    return path


class PartitionLocation(BaseModel):
    """A partition that already sits on an agent's disk (`POST /v1/datasets`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str
    host: str = Field(min_length=1)
    length: Length

    @field_validator("uri")
    @classmethod
    def _absolute_file_uri(cls, value: str) -> str:
        file_uri_path(value)
        return value


class RegisterDataset(BaseModel):
    """The body of `POST /v1/datasets`: a 1-D dataset made of files on the agents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    dtype: str
    partitions: list[PartitionLocation] = Field(min_length=1)

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        return canonical_dtype(value)


def split(array: np.ndarray, k: int) -> list[np.ndarray]:
    """`numpy.array_split` along axis 0 into k near-equal partitions."""
    if array.ndim == 0:
        raise ValueError("cannot partition a 0-d array: a dataset needs at least one axis")
    if k < 1:
        raise ValueError(f"partitions must be >= 1, got {k}")
    if 0 < len(array) < k:
        raise ValueError(f"cannot split {len(array)} elements into {k} partitions")
    return np.array_split(array, k)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


# What a torn or foreign .npy header raises (NumPy tokenizes the header as Python: an
# unclosed bracket ends in a TokenError).
NPY_HEADER_ERRORS = (ValueError, EOFError, OSError, SyntaxError, tokenize.TokenError)


def read_npy_header(stream: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from a .npy header, the stream left at the data;
    one of NPY_HEADER_ERRORS if it is none."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"unsupported format version {version}")
    return tuple(shape), bool(fortran), dtype


def load_npy(data: bytes) -> np.ndarray:
    """Decode a .npy file; refuses anything else and object arrays (they would unpickle)."""
    if not data.startswith(NPY_MAGIC):
        raise ValueError("not a .npy file: it does not start with the \\x93NUMPY magic string")
    stream = io.BytesIO(data)
    try:
        shape, _, dtype = read_npy_header(stream)
    except NPY_HEADER_ERRORS as exc:
        raise ValueError(f"malformed .npy header: {exc}") from exc
    if dtype.hasobject:
        raise ValueError(
            "the .npy holds an object array, which is refused: loading it would unpickle"
        )
    check_dtype(dtype)
    # Checked before anything is allocated: a 128-byte header may claim terabytes.
    claimed = math.prod(shape) * dtype.itemsize
    held = len(data) - stream.tell()
    if claimed != held:
        raise ValueError(
            f"the header claims shape {tuple(shape)} of {dtype.str} ({claimed} bytes), "
            f"but {held} bytes of data follow it"
        )
    stream.seek(0)
    try:
        array: np.ndarray = np.lib.format.read_array(stream, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise ValueError(f"malformed .npy data: {exc}") from exc
    return array


class RegisterArray(BaseModel):
    """The body of `POST /v1/datasets` for one array read in place: a `.npy` file, an HDF5
    dataset or a Zarr array, its rows split into `partitions` row ranges without a copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    format: Literal["npy", "hdf5", "zarr"]
    uri: str
    path: str | None = Field(None, min_length=1, validate_default=True,
                             description="the array in an HDF5 file or Zarr group "
                             "(hdf5: required; npy: not allowed)")
    partitions: int = Field(strict=True, ge=1)
    host: str | None = Field(None, min_length=1, description="the agent whose disk holds "
                             "the file; absent: a disk every agent sees")

    @field_validator("uri")
    @classmethod
    def _absolute_file_uri(cls, value: str) -> str:
        file_uri_path(value)
        return value

    @field_validator("path")
    @classmethod
    def _path_fits_format(cls, value: str | None, info: ValidationInfo) -> str | None:
        fmt = info.data.get("format")
        if fmt == "npy" and value is not None:
            raise ValueError("path names an array inside an hdf5 or zarr file; "
                             "a .npy file holds one array")
        if fmt == "hdf5" and value is None:
            raise ValueError("an hdf5 dataset needs the path of its array in the file")
        return value
