"""Fixtures of the framework tests."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from femto.datasets import Datasets
from femto.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "femto.db"))
    buffer = io.BytesIO()
    np.save(buffer, np.arange(4.0))
    Datasets(store).upload("d", buffer.getvalue(), 1)
    yield store
    store.close()
