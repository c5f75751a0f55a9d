"""schemathesis against a live `femto serve`'s /openapi.json: every public route, with
request bodies drawn from the real models (valid and invalid ones), never a 5xx.

Bounded by a number of examples per operation (about 30 s here in all), and by a timeout
well under the three minutes CI allows it."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from femto.service import Service
from tests.framework.helpers import npy, running_service, upload

EXAMPLES = 150  # per operation, valid and invalid requests together
DERANDOMIZE = os.environ.get("FEMTO_FUZZ_RANDOM") != "1"  # CI: the same examples each run
DATASET = "events"

# .npy headers as an uploader might write them, to reach past the magic-string check.
DESCRS = ["<f8", "<i8", "|b1", "<U3", "|S0", "|V0", "|V8", "|O", "<c16", "<M8[s]", "f8",
          "[('a', '<f8')]", "<f8 ", "", "xyz"]


@st.composite
def npy_files(draw: st.DrawFn) -> bytes:
    shape = draw(st.lists(st.integers(0, 1 << 40) | st.integers(0, 8), max_size=3))
    header = draw(st.sampled_from([
        repr({"descr": draw(st.sampled_from(DESCRS)), "fortran_order": draw(st.booleans()),
              "shape": tuple(shape)}),
        draw(st.text(max_size=40)),
    ])).encode("latin1", "replace")
    version = draw(st.sampled_from([b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x09\x00"]))
    size = len(header) + 1
    length = (size.to_bytes(2, "little") if version == b"\x01\x00"
              else size.to_bytes(4, "little"))
    return b"\x93NUMPY" + version + length + header + b"\n" + draw(st.binary(max_size=64))


@st.composite
def arrays(draw: st.DrawFn) -> bytes:
    """Real .npy files of small arrays."""
    dtype = draw(st.sampled_from(["<f8", "<i4", "|u1", "|b1", "<U2", "<c8", ">f4"]))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=1, max_size=3)))
    array = np.arange(int(np.prod(shape)), dtype=np.int64).astype(dtype).reshape(shape)
    return npy(array)


# The characters that mean something in a path, beside any other.
PATHS = st.text(st.sampled_from("/.%~ \n\x00a"), min_size=1, max_size=12) | st.text(max_size=20)
NAMES = st.from_regex(r"\A[A-Za-z0-9._-]{1,12}\Z")


@dataclass
class Aims:
    """What steered requests aim at: the data root's files, and the datasets made so far."""

    root: Path
    datasets: list[str] = field(default_factory=lambda: [DATASET])
    jobs: list[str] = field(default_factory=list)

    def uris(self) -> st.SearchStrategy[str]:
        inside = st.sampled_from(["ok.npy", "bad.bin", "link", "missing", "", ".", ".."])
        return st.one_of(
            inside.map(lambda name: f"file://{self.root}/{name}"),
            PATHS.map(lambda text: f"file://{self.root}/{quote(text)}"),
            PATHS.map(lambda text: f"file:///{quote(text)}"),
        )


def steered(label: str, case: schemathesis.Case, data: st.DataObject,
            aims: Aims) -> schemathesis.Case:
    """Half the requests aimed past the first check: a job on a dataset that exists with
    resources that fit, an upload of a real or nearly real .npy file under a valid name,
    a registration of files under the data root, a read of a dataset that exists."""
    if not data.draw(st.booleans()):
        return case
    body = case.body
    if label == "POST /v1/jobs" and isinstance(body, dict) \
            and isinstance(body.get("inputs"), list):
        body["inputs"] = [data.draw(st.sampled_from(aims.datasets)) for _ in body["inputs"]]
        body["resources"] = {"cpus": 0.1, "mem": 32}
    elif label == "PUT /v1/datasets/{name}":
        case.body = data.draw(npy_files() | arrays())
        case.path_parameters = {"name": data.draw(NAMES)}
        case.query = {"partitions": data.draw(st.integers(1, 8))}
    elif label == "POST /v1/datasets":
        case.body = {
            "name": data.draw(NAMES),
            "dtype": data.draw(st.sampled_from(["<f8", "float64", "<i8", "|u1"])),
            "partitions": data.draw(st.lists(st.fixed_dictionaries({
                "uri": aims.uris(), "host": st.just("localhost"),
                "length": st.integers(0, 20)}), min_size=1, max_size=3)),
        }
    elif label.startswith("GET /v1/datasets/{name}"):
        case.path_parameters = {**(case.path_parameters or {}),
                                "name": data.draw(st.sampled_from(aims.datasets))}
        if "index" in case.path_parameters:
            case.path_parameters["index"] = data.draw(st.integers(-1, 9))
    elif "{job_id}" in label and aims.jobs:
        case.path_parameters = {**(case.path_parameters or {}),
                                "job_id": data.draw(st.sampled_from(aims.jobs))}
        if "partition" in case.path_parameters:
            case.path_parameters["partition"] = data.draw(st.integers(-1, 2))
    return case


def runs_programs(body: Any) -> bool:
    """A generated `command` job would run whatever program it names on this machine."""
    return isinstance(body, dict) and body.get("operation") == "command"


def fuzz(operation: schemathesis.APIOperation, url: str, aims: Aims,
         statuses: Counter[tuple[str, int]]) -> None:
    """Valid and invalid requests to one operation; raises on the first 5xx (shrunk)."""
    label = operation.label
    strategy = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                         operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)
    @given(case=strategy, data=st.data())
    def check(case: schemathesis.Case, data: st.DataObject) -> None:
        case = steered(label, case, data, aims)
        if runs_programs(case.body):
            return
        response = case.call(base_url=url, timeout=30)
        statuses[(label, response.status_code // 100)] += 1
        if response.status_code == 201 and label in ("PUT /v1/datasets/{name}",
                                                     "POST /v1/datasets"):
            aims.datasets.append(response.json()["name"])
        elif response.status_code == 201 and label == "POST /v1/jobs":
            aims.jobs.append(response.json()["id"])
        case.validate_response(response, checks=[not_a_server_error])

    check()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Service, httpx.Client, Aims]]:
    root = tmp_path_factory.mktemp("data")
    (root / "ok.npy").write_bytes(npy(np.arange(10.0)))
    (root / "bad.bin").write_bytes(b"not a .npy file")
    (root / "link").symlink_to("/etc/hostname")
    with running_service(tmp_path_factory.mktemp("femto"), data_roots=[root]) as (service,
                                                                                  client):
        upload(client, DATASET, np.linspace(0.0, 100.0, 1000), 2)
        yield service, client, Aims(root)


@pytest.mark.timeout(170)
def test_no_route_answers_a_5xx(served: tuple[Service, httpx.Client, Aims]) -> None:
    service, _, aims = served
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    # Deletions last, so that the reads before them find the datasets and jobs made. The
    # event stream never ends, so no request to it would (tests/framework/test_events.py).
    operations = sorted((op for op in (result.ok() for result in schema.get_all_operations())
                         if op.label != "GET /v1/events"),
                        key=lambda op: op.method.upper() == "DELETE")
    assert {"POST /v1/jobs", "POST /v1/datasets", "PUT /v1/datasets/{name}",
            "GET /v1/jobs/{job_id}", "DELETE /v1/jobs/{job_id}"} <= {op.label for op in operations}
    failures: list[str] = []
    statuses: Counter[tuple[str, int]] = Counter()
    for operation in operations:
        try:
            fuzz(operation, service.url, aims, statuses)
        except Exception as exc:  # collected: one route's 5xx must not hide another's
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    # The fuzzing reached the engine: some jobs and uploads were accepted.
    assert statuses[("POST /v1/jobs", 2)] and statuses[("PUT /v1/datasets/{name}", 2)], statuses
    assert statuses[("POST /v1/datasets", 2)], statuses
