"""`femto dataset register` (arrays read in place) and `femto dataset get -o x.h5`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

from femto.service import Service
from tests.cli.helpers import TOKEN, a_mistake, femto, femto_json
from tests.framework.helpers import running_service


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-root")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("femto"), api_token=TOKEN,
                         data_roots=[root]) as (service, _):
        yield service


def test_register_an_hdf5_array_and_get_it_back_as_hdf5(served: Service, root: Path,
                                                        tmp_path: Path) -> None:
    data = np.arange(40.0).reshape(10, 4)
    with h5py.File(root / "grid.h5", "w") as f:
        f.create_dataset("/run1/grid", data=data)
    registered = femto_json(served, "dataset", "register", "grid", str(root / "grid.h5"),
                            "--path", "/run1/grid", "--partitions", "3")
    assert registered == {"name": "grid", "dtype": "<f8", "shape": [10, 4], "partitions": 3,
                          "closed": False}
    shown = femto(served, "dataset", "get", "grid", "-o", str(tmp_path / "out.h5")).stdout
    assert "saved dataset grid" in shown
    with h5py.File(tmp_path / "out.h5", "r") as f:
        np.testing.assert_array_equal(f["/data"][...], data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]  # no partial left


def test_register_an_npy_by_uri_with_its_format_named(served: Service, root: Path) -> None:
    with (root / "plain.bin").open("wb") as out:  # np.save would add .npy to a path
        np.save(out, np.arange(5, dtype=np.int64))
    listing = femto(served, "dataset", "register", "plain", (root / "plain.bin").as_uri(),
                    "--format", "npy", "--partitions", "2", "--host", "agent-1").stdout
    assert listing.splitlines()[1].split() == ["plain", "<i8", "5", "2"]


def test_register_mistakes_name_what_is_wrong(served: Service, root: Path,
                                              tmp_path: Path) -> None:
    a_mistake(femto(served, "dataset", "register", "x", str(root / "data.bin"),
                    "--partitions", "2", check=False), "--format")
    np.save(tmp_path / "outside.npy", np.arange(3.0))
    a_mistake(femto(served, "dataset", "register", "x", str(tmp_path / "outside.npy"),
                    "--partitions", "2", check=False), "--data-root")
