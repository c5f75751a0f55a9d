"""A live scheduler on the embedded cluster, shared by a module's API tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from femto.service import Service
from tests.framework.helpers import running_service, upload


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, httpx.Client]]:
    with running_service(tmp_path_factory.mktemp("femto")) as (service, client):
        upload(client, "d", np.arange(300.0), 3)
        yield service, client


@pytest.fixture(scope="module")
def api(served: tuple[Service, httpx.Client]) -> httpx.Client:
    return served[1]
