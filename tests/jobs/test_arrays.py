"""Reading arrays in place by row range: the split, the header checks, the rows read."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from femto.jobs.arrays import ArrayError, inspect, read_rows, row_ranges
from femto.jobs.datasets import npy_bytes


@pytest.mark.parametrize(("rows", "k"), [(0, 1), (0, 3), (1, 1), (10, 3), (10, 10), (1_003, 4),
                                         (7, 1)])
def test_row_ranges_split_as_numpy_array_split_does(rows: int, k: int) -> None:
    expected = [len(part) for part in np.array_split(np.empty(rows), k)]
    ranges = row_ranges(rows, k)
    assert [stop - start for start, stop in ranges] == expected
    assert ranges[0][0] == 0 and ranges[-1][1] == rows
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_more_partitions_than_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot split 3 rows into 4"):
        row_ranges(3, 4)


@pytest.mark.parametrize("shape", [(11,), (11, 3), (11, 2, 2)])
def test_npy_rows_are_the_array_s_rows(tmp_path: Path, shape: tuple[int, ...]) -> None:
    data = np.arange(np.prod(shape), dtype=np.int32).reshape(shape)
    np.save(tmp_path / "a.npy", data)
    info = inspect("npy", tmp_path / "a.npy")
    assert (info.dtype, info.shape) == (data.dtype, shape)
    for start, stop in [*row_ranges(11, 3), (4, 4), (0, 11)]:
        np.testing.assert_array_equal(read_rows("npy", tmp_path / "a.npy", None, start, stop),
                                      data[start:stop])


def test_rows_past_the_end_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.arange(5.0))
    with pytest.raises(ArrayError, match="no rows 3:6"):
        read_rows("npy", tmp_path / "a.npy", None, 3, 6)


@pytest.mark.parametrize(("write", "named"), [
    (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00"), "not a readable .npy"),
    (lambda p: p.write_text("hello"), "not a readable .npy"),
    (lambda p: np.save(p, np.array(3.0)), "0-d"),
    (lambda p: np.save(p, np.asfortranarray(np.ones((3, 2)))), "Fortran"),
    (lambda p: np.save(p, np.array([1, "a"], dtype=object), allow_pickle=True), "object"),
    (lambda p: p.write_bytes(npy_bytes(np.arange(4.0))[:-8]), "24 bytes of data"),
])
def test_a_file_that_is_no_usable_npy_is_refused_naming_why(
        tmp_path: Path, write, named: str) -> None:
    path = tmp_path / "bad.npy"
    write(path)
    with pytest.raises(ArrayError, match=named):
        inspect("npy", path)


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArrayError, match="unknown format 'csv'"):
        inspect("csv", tmp_path)


def test_hdf5_data_kept_in_another_file_is_refused(tmp_path: Path) -> None:
    import h5py  # the hdf5 extra, which tests/run installs
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(8.0).tobytes())
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("/x", data=np.arange(8.0))
    with h5py.File(tmp_path / "tricks.h5", "w") as f:
        f.create_dataset("/raw", shape=(8,), dtype="f8", external=[(str(secret), 0, 64)])
        f["/linked"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/x")
        layout = h5py.VirtualLayout(shape=(8,), dtype="f8")
        layout[:] = h5py.VirtualSource(str(tmp_path / "other.h5"), "/x", shape=(8,))
        f.create_virtual_dataset("/virtual", layout)
        f.create_dataset("/own", data=np.arange(8.0))
    for name in ("/raw", "/linked", "/virtual"):
        with pytest.raises(ArrayError, match="another file"):
            inspect("hdf5", tmp_path / "tricks.h5", name)
        with pytest.raises(ArrayError, match="another file"):
            read_rows("hdf5", tmp_path / "tricks.h5", name, 0, 8)
    np.testing.assert_array_equal(read_rows("hdf5", tmp_path / "tricks.h5", "/own", 2, 5),
                                  np.arange(2.0, 5.0))


def test_a_zarr_chunk_linked_out_of_its_directory_is_refused(tmp_path: Path) -> None:
    import zarr  # the zarr extra, which tests/run installs

    array = zarr.create_array(store=str(tmp_path / "a.zarr"), shape=(8,), chunks=(4,),
                              dtype="f8", compressors=None)
    array[:] = np.arange(8.0)
    assert inspect("zarr", tmp_path / "a.zarr").shape == (8,)
    chunk = next(p for p in (tmp_path / "a.zarr").rglob("*") if p.is_file() and
                 p.name == "1")
    (tmp_path / "secret").write_bytes(np.arange(4.0).tobytes())
    chunk.unlink()
    chunk.symlink_to(tmp_path / "secret")
    with pytest.raises(ArrayError, match="links out of the Zarr array"):
        inspect("zarr", tmp_path / "a.zarr")
