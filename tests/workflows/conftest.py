"""A live scheduler on the embedded cluster with the example input, shared by a module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from femto.jobs.examples.data import example_dataset
from tests.framework.helpers import running_service, upload


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with running_service(tmp_path_factory.mktemp("femto")) as (_, client):
        upload(client, "signal", example_dataset("signal"), 4)
        yield client
