"""Client commands against a live scheduler: tables and charts for people, the API's JSON
with --json."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np

from femto.service import Service
from tests.cli.helpers import (
    TOKEN,
    a_mistake,
    client_env,
    femto,
    femto_json,
    save,
    write_spec,
)
from tests.framework.helpers import wait_done


def api(service: Service) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=30)


def test_dataset_put_list_get_delete(served: Service, tmp_path: Path) -> None:
    data = np.random.default_rng(1).normal(size=1000)
    source = save(tmp_path / "in.npy", data)
    put = femto_json(served, "dataset", "put", "cli-data", str(source), "--partitions", "7")
    assert put == {"name": "cli-data", "dtype": "<f8", "shape": [1000], "partitions": 7,
                   "closed": False}
    listing = femto(served, "dataset", "list").stdout.splitlines()
    assert listing[0].split() == ["NAME", "DTYPE", "SHAPE", "PARTITIONS"]
    assert ["cli-data", "<f8", "1000", "7"] in [line.split() for line in listing[1:]]
    assert {"name": "cli-data", "dtype": "<f8", "shape": [1000], "partitions": 7,
            "closed": False} in femto_json(served, "dataset", "list")
    femto(served, "dataset", "get", "cli-data", "-o", str(tmp_path / "out.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy", "out.npy"]  # no part left
    assert femto(served, "dataset", "delete", "cli-data").stdout == "deleted dataset cli-data\n"
    assert "cli-data" not in femto(served, "dataset", "list").stdout
    a_mistake(femto(served, "dataset", "delete", "cli-data", check=False), "cli-data")


def test_dataset_append_and_close(served: Service, tmp_path: Path) -> None:
    femto(served, "dataset", "put", "cli-stream", str(save(tmp_path / "a.npy", np.arange(4.0))),
          "--partitions", "1")
    more = save(tmp_path / "b.npy", np.arange(3.0))
    appended = femto(served, "dataset", "append", "cli-stream", str(more), "--index", "1")
    assert appended.stdout == "dataset cli-stream: partition 1 stored (2 partitions, shape 7)\n"
    # Again with the same index (a retry after an error): stored once.
    again = femto_json(served, "dataset", "append", "cli-stream", str(more), "--index", "1")
    assert again["partitions"] == 2 and again["closed"] is False
    closed = femto(served, "dataset", "close", "cli-stream")
    assert closed.stdout == "closed dataset cli-stream (2 partitions)\n"
    a_mistake(femto(served, "dataset", "append", "cli-stream", str(more), check=False),
              "is closed")


def test_a_finished_histogram_is_drawn_beside_its_numbers(served: Service,
                                                           tmp_path: Path) -> None:
    data = np.repeat(np.arange(4.0), [10, 40, 20, 0])
    femto(served, "dataset", "put", "cli-hist", str(save(tmp_path / "h.npy", data)))
    spec = write_spec(tmp_path / "h.json", name="h", operation="histogram", inputs=["cli-hist"],
                      params={"bins": 4, "range": [0, 4]})
    job = femto_json(served, "submit", str(spec))
    with api(served) as client:
        wait_done(client, job["id"])
    chart = femto(served, "result", job["id"]).stdout.splitlines()
    assert chart[0] == "histogram of 70 values in 4 bins"
    rows = [line.split(None, 3) for line in chart[1:]]
    assert [(r[0] + r[1], r[2]) for r in rows] == [
        ("[0,1)", "10"), ("[1,2)", "40"), ("[2,3)", "20"), ("[3,4]", "0")]
    bars = [line.split("  ")[-1].strip() for line in chart[1:]]
    assert len(bars[1]) == 40 and set(bars[1]) == {"█"}  # the largest bin: a full bar
    assert 9 <= len(bars[0]) <= 10 and bars[3] == ""
    status = femto(served, "status", job["id"]).stdout
    assert "FINISHED" in status and "histogram of 70 values" in status
    assert "[1, 2)  40  " + "█" * 40 in status
    assert femto_json(served, "result", job["id"]) == {
        "counts": [10, 40, 20, 0], "edges": [0.0, 1.0, 2.0, 3.0, 4.0]}


def test_submit_jobs_status_tasks_and_json(served: Service, tmp_path: Path) -> None:
    data = np.arange(500, dtype=np.float64)
    femto(served, "dataset", "put", "cli-sum", str(save(tmp_path / "d.npy", data)),
          "--partitions", "7")
    spec = write_spec(tmp_path / "job.json", name="cli-sum", operation="sum",
                      inputs=["cli-sum"])
    said = femto(served, "submit", str(spec)).stdout.splitlines()
    job_id = said[0].split()[1]
    assert said == [f"job {job_id} submitted", f"follow it with: femto watch {job_id}"]
    with api(served) as client:
        wait_done(client, job_id)
    status = femto_json(served, "status", job_id)
    assert status["id"] == job_id and status["tasks"]["finished"] == 7
    assert status["result"] == {"value": float(data.sum())}
    assert femto(served, "result", job_id).stdout == f"{float(data.sum())!r}\n"
    assert femto_json(served, "result", job_id) == {"value": float(data.sum())}

    table = femto(served, "jobs").stdout.splitlines()
    assert table[0].split() == ["ID", "STATE", "TASKS", "OPERATION", "CREATED", "NAME"]
    row = next(line.split() for line in table if line.startswith(job_id))
    assert row[1:4] == ["FINISHED", "7/7", "sum"] and row[-1] == "cli-sum"
    assert job_id in femto(served, "jobs", "--state", "FINISHED").stdout
    assert job_id not in femto(served, "jobs", "--state", "RUNNING").stdout
    listed = femto_json(served, "jobs")
    assert job_id in [j["id"] for j in listed] and "result" not in listed[0]

    tasks = femto(served, "tasks", job_id).stdout.splitlines()
    assert tasks[0].split() == ["PARTITION", "ATTEMPT", "STATE", "HOST", "LAUNCHED",
                                "RUNNING", "ENDED", "FAULT", "MESSAGE"]
    rows = [line.split() for line in tasks[1:]]
    assert sorted(int(r[0]) for r in rows) == list(range(7))
    assert {r[2] for r in rows} == {"FINISHED"} and all(r[1] == "1" for r in rows)
    assert [t["partition"] for t in femto_json(served, "tasks", job_id)] == list(range(7))


def test_tasks_names_whose_fault_a_failure_was(served: Service, tmp_path: Path) -> None:
    femto(served, "dataset", "put", "cli-fail", str(save(tmp_path / "d.npy", np.arange(4.0))),
          "--partitions", "1")
    spec = write_spec(tmp_path / "f.json", name="f", operation="command", inputs=["cli-fail"],
                      params={"argv": ["sh", "-c", "echo broken >&2; exit 3"]}, max_retries=1)
    job = femto_json(served, "submit", str(spec))
    with api(served) as client:
        assert wait_done(client, job["id"])["state"] == "FAILED"
    rows = [line.split(None, 8) for line in femto(served, "tasks", job["id"]).stdout
            .splitlines()[1:]]
    assert [(r[0], r[1], r[2], r[7]) for r in rows] == [("0", "1", "FAILED", "work"),
                                                         ("0", "2", "FAILED", "work")]
    logs = femto(served, "logs", job["id"])
    assert "broken" in logs.stdout and logs.stderr == f"partition 0 of job {job['id']}\n"
    chunks = [json.loads(line) for line in
              femto(served, "--json", "logs", job["id"], "0", "--attempt", "1").stdout
              .splitlines()]
    assert chunks and {c["attempt"] for c in chunks} == {1}
    assert "broken" in "".join(c["data"] for c in chunks)
    status = femto(served, "status", job["id"], check=False)
    assert status.returncode == 0 and "FAILED" in status.stdout
    result = femto(served, "result", job["id"], check=False)
    a_mistake(result, f"job {job['id']} is FAILED")


def test_cancel_and_result_of_a_cancelled_job(served: Service, tmp_path: Path) -> None:
    femto(served, "dataset", "put", "cli-slow", str(save(tmp_path / "d.npy", np.arange(4.0))),
          "--partitions", "2")
    spec = write_spec(tmp_path / "slow.json", name="slow", operation="command",
                      inputs=["cli-slow"], params={"argv": ["sh", "-c", "sleep 60; cat"]})
    job = femto_json(served, "submit", str(spec))
    assert job["state"] == "PENDING"
    assert femto_json(served, "cancel", job["id"])["state"] == "CANCELLED"
    a_mistake(femto(served, "result", job["id"], check=False), "CANCELLED")


def test_global_options_stand_before_or_after_the_command(served: Service) -> None:
    env = client_env(FEMTO_API_TOKEN=TOKEN)
    before = femto(None, "--url", served.url, "--json", "dataset", "list", env=env)
    after = femto(None, "dataset", "list", "--json", "--url", served.url, env=env)
    between = femto(None, "dataset", "--url", served.url, "list", "--json", env=env)
    assert json.loads(before.stdout) == json.loads(after.stdout) == json.loads(between.stdout)


def test_the_token_comes_from_a_file_or_the_environment(served: Service,
                                                       tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    anonymous = client_env(FEMTO_URL=served.url)
    a_mistake(femto(None, "jobs", env=anonymous, check=False), "401")
    femto(None, "jobs", "--api-token-file", str(tmp_path / "token"), env=anonymous)
    femto(None, "jobs", env={**anonymous, "FEMTO_API_TOKEN_FILE": str(tmp_path / "token")})
    a_mistake(femto(None, "jobs", "--api-token-file", str(tmp_path / "none"), env=anonymous,
                    check=False), "cannot read --api-token-file")


def test_api_errors_are_one_line(served: Service, tmp_path: Path) -> None:
    bad = write_spec(tmp_path / "bad.json", name="x", operation="histogram", inputs=["x"],
                     params={"bins": 0, "range": [0, 1]})
    a_mistake(femto(served, "submit", str(bad), check=False), "params.bins")
    a_mistake(femto(served, "status", "no-such-job", check=False), "not found")
    a_mistake(femto(served, "submit", str(tmp_path / "none.json"), check=False),
              "cannot read job spec")
    (tmp_path / "text.json").write_text("{not json")
    a_mistake(femto(served, "submit", str(tmp_path / "text.json"), check=False), "not JSON")
    a_mistake(femto(None, "jobs", env=client_env(FEMTO_URL="http://127.0.0.1:9"),
                    check=False), "cannot reach femto at http://127.0.0.1:9")
