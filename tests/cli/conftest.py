"""The `femto` command as a user runs it: the real console script, against one live
scheduler (the embedded cluster) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from femto.service import Service
from tests.cli.helpers import TOKEN
from tests.framework.helpers import running_service


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("femto"), api_token=TOKEN) as (service, _):
        yield service
