"""`femto dataset register` (an array read in place) and HDF5 downloads (`-o x.h5`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from femto.cli.errors import UserError

# NumPy and femto.jobs are imported only by the HDF5 download: the client's other commands
# start without them (tests/cli/test_surface.py).
HDF5_SUFFIXES = (".h5", ".hdf5")
SUFFIX_FORMATS = {".npy": "npy", ".h5": "hdf5", ".hdf5": "hdf5", ".zarr": "zarr"}


def registration(args: argparse.Namespace) -> dict[str, object]:
    """The POST /v1/datasets body: the file named as a file:// URI (a plain path is taken
    as the scheduler's, made absolute here), its format named or read from its suffix."""
    uri = args.file if args.file.startswith("file://") else Path(args.file).absolute().as_uri()
    fmt = args.format or SUFFIX_FORMATS.get(Path(args.file.rstrip("/")).suffix.lower())
    if fmt is None:
        raise UserError(f"cannot tell the format of {args.file} from its name: "
                        "give --format npy, hdf5 or zarr")
    body: dict[str, object] = {"name": args.name, "format": fmt, "uri": uri,
                               "partitions": args.partitions}
    if args.path:
        body["path"] = args.path
    if args.host:
        body["host"] = args.host
    return body


def wants_hdf5(target: Path) -> bool:
    """Whether a download goes to HDF5 (by its suffix); UserError now, before the download,
    if h5py is not installed."""
    if target.suffix.lower() not in HDF5_SUFFIXES:
        return False
    from femto.jobs.arrays import MissingExtra, library

    try:
        library("hdf5")
    except MissingExtra as exc:
        raise UserError(f"cannot write {target}: {exc}") from None
    return True


def npy_to_hdf5(npy: Path, target: Path, rows: int = 2**20) -> None:
    """The downloaded .npy as the dataset /data of an HDF5 file, a slice at a time."""
    import numpy as np

    from femto.jobs.arrays import HDF5_ARRAY, write_hdf5

    try:
        array = np.load(npy, mmap_mode="r", allow_pickle=False)
    except ValueError:  # an empty array cannot be memory-mapped
        array = np.load(npy, allow_pickle=False)
    if array.ndim == 0:
        raise UserError("the dataset is a scalar; HDF5 downloads need at least one axis")
    write_hdf5(target, (array[i:i + rows] for i in range(0, len(array), rows)),
               array.dtype, array.shape, HDF5_ARRAY)
