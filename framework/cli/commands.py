"""Client commands: each talks to a running scheduler over its HTTP API.

Human output by default; `--json` prints the API's JSON as it came, for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from femto.cli.arrays import npy_to_hdf5, registration, wants_hdf5
from femto.cli.errors import UserError
from femto.cli.render import (
    datasets_table,
    final_steps,
    job_lines,
    jobs_table,
    result_lines,
    tasks_table,
    workflow_lines,
    workflows_table,
)
from femto.cli.tokens import api_token
from femto.client import Client

if TYPE_CHECKING:
    from femto.cli.display import Panel, Show, WorkflowPanel


def emit(lines: list[str]) -> None:
    # Line by line: a reader that closes the pipe early (`| head`) is noticed at once.
    for line in lines:
        sys.stdout.write(line + "\n")


def emit_json(value: Any) -> None:
    emit(json.dumps(value, indent=2).splitlines())


def show(args: argparse.Namespace, value: Any, lines: Callable[[Any], list[str]]) -> None:
    """The API's JSON for scripts (--json), else the lines people read."""
    if args.json:
        emit_json(value)
    else:
        emit(lines(value))


def call_and_show(args: argparse.Namespace, method: str, route: str,
                  lines: Callable[[Any], list[str]], **kwargs: Any) -> int:
    with connect(args) as client:
        value = client.json(method, route, **kwargs)
    show(args, value, lines)
    return 0


@contextmanager
def connect(args: argparse.Namespace) -> Iterator[Client]:
    client = Client(args.url, api_token(args))
    try:
        yield client
    finally:
        client.close()


def read_spec(path: str, what: str = "job spec") -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None
    except ValueError as exc:
        raise UserError(f"{what} {path} is not JSON: {exc}") from None


def finish(args: argparse.Namespace, job: dict[str, Any]) -> int:
    """The ended job, and the exit status it gives: 0 only when it finished."""
    show(args, job, job_lines)
    return 0 if job["state"] == "FINISHED" else 1


def following(args: argparse.Namespace,
              panel: Panel | WorkflowPanel | None = None) -> AbstractContextManager[Show]:
    """People get the live panel on a terminal, else a line per change; scripts (--json)
    get the panel on stderr when it is a terminal and nothing else until the end."""
    # Imported here: the event models (pydantic) and rich are for following alone.
    from femto.cli import display

    out = sys.stderr if args.json else sys.stdout
    if out.isatty():
        return display.live(out, panel)
    if args.json:
        return display.quiet()
    return display.lines(out)


def watch_to_end(args: argparse.Namespace, noun: str, again: str, item_id: str,
                 follow: Callable[[Show], object],
                 panel: Panel | WorkflowPanel | None = None) -> int | None:
    """Follow a job or workflow to its end (None then); Ctrl-C leaves it running, says
    how to follow it again, and is exit status 130."""
    try:
        with following(args, panel) as show:
            follow(show)
    except KeyboardInterrupt:
        print(f"femto: detached from {noun} {item_id}, which goes on; follow it again with: "
              f"{again} {item_id}", file=sys.stderr)
        return 130
    return None


def watch_job(args: argparse.Namespace, client: Client, job_id: str) -> int:
    from femto.cli.follow import follow

    stopped = watch_to_end(args, "job", "femto watch", job_id,
                           lambda show: follow(client, job_id, show))
    return stopped or finish(args, client.json("GET", f"/v1/jobs/{job_id}"))


def submit_and_follow(args: argparse.Namespace, noun: str, route: str, body: Any,
                      again: str, watch: Callable[[argparse.Namespace, Client, str], int],
                      ) -> int:
    """POST a job or workflow; print its id (how to follow it), or with --wait follow it."""
    with connect(args) as client:
        made = client.json("POST", route, json=body)
        if args.json and not args.wait:
            emit_json(made)
            return 0
        said = f"{noun} {made['id']} submitted"
        if not args.wait:
            emit([said, f"follow it with: {again} {made['id']}"])
            return 0
        if args.json:
            print(f"femto: {said}", file=sys.stderr, flush=True)
        else:
            emit([said])
            sys.stdout.flush()
        return watch(args, client, made["id"])


def submit(args: argparse.Namespace) -> int:
    return submit_and_follow(args, "job", "/v1/jobs", read_spec(args.job), "femto watch",
                             watch_job)


def watch(args: argparse.Namespace) -> int:
    with connect(args) as client:
        return watch_job(args, client, args.id)


def listing(args: argparse.Namespace, route: str,
            table: Callable[[list[dict[str, Any]]], list[str]]) -> int:
    """Every page of a list, newest first: a table, or with --json the API's objects."""
    params = {"state": args.state} if args.state else {}
    with connect(args) as client:
        listed = list(client.pages(route, params=params))
    show(args, listed, table)
    return 0


def jobs(args: argparse.Namespace) -> int:
    return listing(args, "/v1/jobs", jobs_table)


def status(args: argparse.Namespace) -> int:
    return call_and_show(args, "GET", f"/v1/jobs/{args.id}", job_lines)


def tasks(args: argparse.Namespace) -> int:
    return call_and_show(args, "GET", f"/v1/jobs/{args.id}/tasks", tasks_table)


def cancel(args: argparse.Namespace) -> int:
    return call_and_show(args, "DELETE", f"/v1/jobs/{args.id}", job_lines)


def result(args: argparse.Namespace) -> int:
    with connect(args) as client:
        job = client.json("GET", f"/v1/jobs/{args.id}")
    if job["state"] != "FINISHED":
        reason = f": {job['error']}" if job.get("error") else ""
        raise UserError(f"job {args.id} is {job['state']}{reason}")
    show(args, job["result"], result_lines)
    return 0


def logs(args: argparse.Namespace) -> int:
    with connect(args) as client:
        partition = args.partition
        if partition is None:
            # The first task that failed is the one whose log explains the job.
            listed = client.json("GET", f"/v1/jobs/{args.id}/tasks")
            failed = [t for t in listed if t["attempts"] and t["attempts"][-1]["state"] in
                      ("TASK_FAILED", "TASK_ERROR")]
            picked = failed or [t for t in listed if t["attempts"]] or listed
            partition = picked[0]["partition"] if picked else 0
            print(f"partition {partition} of job {args.id}", file=sys.stderr)
        for chunk in client.task_log(args.id, partition, args.file, follow=args.follow,
                                     attempt=args.attempt):
            # --json: the API's chunks, one JSON object a line, for a script to follow.
            sys.stdout.write(json.dumps(chunk) + "\n" if args.json else chunk["data"])
            sys.stdout.flush()
    return 0


def dataset_put(args: argparse.Namespace) -> int:
    try:
        body = Path(args.file).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}") from None
    params = {"partitions": args.partitions} if args.partitions else {}
    return call_and_show(args, "PUT", f"/v1/datasets/{args.name}",
                         lambda dataset: datasets_table([dataset]), params=params,
                         content=body, headers={"Content-Type": "application/octet-stream"})


def writable_target(path: Path) -> None:
    """Checked before a download, not after it."""
    folder = path.parent
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a directory")
    if not folder.is_dir():
        raise UserError(f"cannot write {path}: no directory {folder}")
    if not os.access(folder, os.W_OK):
        raise UserError(f"cannot write {path}: {folder} is not writable")


def dataset_get(args: argparse.Namespace) -> int:
    target = Path(args.output)
    writable_target(target)
    # Into a file beside the target, renamed once whole: an interrupted download leaves
    # neither a torn .npy nor a stale one behind.
    partial = target.with_name(f".{target.name}.part")
    hdf5 = wants_hdf5(target)
    try:
        with partial.open("wb") as out, connect(args) as client, \
                client.stream("GET", f"/v1/datasets/{args.name}/data") as response:
            for chunk in response.iter_bytes():
                out.write(chunk)
        if hdf5:
            npy_to_hdf5(partial, partial.with_suffix(".h5part"))
            partial.with_suffix(".h5part").replace(target)
        else:
            partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
        partial.with_suffix(".h5part").unlink(missing_ok=True)
    if not args.json:
        emit([f"saved dataset {args.name} to {target} ({target.stat().st_size:,} bytes)"])
    return 0


def dataset_list(args: argparse.Namespace) -> int:
    return call_and_show(args, "GET", "/v1/datasets", datasets_table)


def dataset_delete(args: argparse.Namespace) -> int:
    with connect(args) as client:
        client.call("DELETE", f"/v1/datasets/{args.name}")
    if not args.json:
        emit([f"deleted dataset {args.name}"])
    return 0


def final_jobs(client: Client, workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The job of each final step (one no other step reads) that has a job."""
    steps = workflow["steps"]
    return {name: client.json("GET", f"/v1/jobs/{steps[name]['job']}")
            for name in final_steps(workflow.get("spec") or {})
            if steps.get(name, {}).get("job")}


def final_result_lines(jobs: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for step, job in jobs.items():
        if job.get("result") is None:
            continue
        result = result_lines(job["result"])
        lines.append(f"{'result':<8} step {step}: {result[0]}")
        lines += ["  " + line for line in result[1:]]
    return lines


def finish_workflow(args: argparse.Namespace, client: Client,
                    workflow: dict[str, Any]) -> int:
    """The ended workflow with its final steps' results, and the exit status it gives: 0
    only when it finished."""
    show(args, workflow,
         lambda w: workflow_lines(w) + final_result_lines(final_jobs(client, w)))
    return 0 if workflow["state"] == "FINISHED" else 1


def watch_workflow(args: argparse.Namespace, client: Client, workflow_id: str) -> int:
    from femto.cli.display import WorkflowPanel
    from femto.cli.flow import follow_workflow

    stopped = watch_to_end(args, "workflow", "femto workflow watch", workflow_id,
                           lambda show: follow_workflow(client, workflow_id, show),
                           WorkflowPanel())
    return stopped or finish_workflow(args, client,
                                      client.json("GET", f"/v1/workflows/{workflow_id}"))


def workflow_submit(args: argparse.Namespace) -> int:
    return submit_and_follow(args, "workflow", "/v1/workflows",
                             read_spec(args.file, "workflow"), "femto workflow watch",
                             watch_workflow)


def workflow_watch(args: argparse.Namespace) -> int:
    with connect(args) as client:
        return watch_workflow(args, client, args.id)


def workflows(args: argparse.Namespace) -> int:
    return listing(args, "/v1/workflows", workflows_table)


def workflow_status(args: argparse.Namespace) -> int:
    with connect(args) as client:
        workflow = client.json("GET", f"/v1/workflows/{args.id}")
        shown = [] if args.json else final_result_lines(final_jobs(client, workflow))
    show(args, workflow, lambda w: workflow_lines(w) + shown)
    return 0


def workflow_cancel(args: argparse.Namespace) -> int:
    return call_and_show(args, "DELETE", f"/v1/workflows/{args.id}", workflow_lines)


def dataset_append(args: argparse.Namespace) -> int:
    try:
        body = Path(args.file).read_bytes()  # sent as it is: the scheduler checks it
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}") from None
    params = {"index": args.index} if args.index is not None else {}
    return call_and_show(
        args, "POST", f"/v1/datasets/{args.name}/partitions",
        lambda d: [f"dataset {args.name}: partition {d['partitions'] - 1} stored "
                   f"({d['partitions']} partitions, shape "
                   f"{'x'.join(str(n) for n in d['shape'])})"],
        params=params, content=body, headers={"Content-Type": "application/octet-stream"})


def dataset_close(args: argparse.Namespace) -> int:
    return call_and_show(
        args, "POST", f"/v1/datasets/{args.name}/close",
        lambda d: [f"closed dataset {args.name} ({d['partitions']} partitions)"])


def dataset_register(args: argparse.Namespace) -> int:
    return call_and_show(args, "POST", "/v1/datasets",
                         lambda dataset: datasets_table([dataset]), json=registration(args))
