"""`serve` and `run`: this process is the scheduler. Only these import the server stack."""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from femto.cli import display
from femto.cli.commands import (
    emit,
    emit_json,
    final_jobs,
    final_result_lines,
    finish,
    read_spec,
    writable_target,
)
from femto.cli.errors import UserError
from femto.cli.flow import follow_workflow
from femto.cli.follow import follow
from femto.cli.parser import SERVE
from femto.cli.render import workflow_lines
from femto.cli.settings import resolve
from femto.cli.tokens import api_token
from femto.client import Client
from femto.errors import FemtoError
from femto.jobs.examples import data as examples
from femto.jobs.limits import Limits
from femto.jobs.spec import SpecError, parse_job_spec
from femto.service import Options, Service
from femto.store.base import StoreError

EXAMPLES = Path(examples.__file__).resolve().parent


def start(service: Service) -> None:
    """Start the service, or name why it cannot (an address taken, a bad --listen, a store
    out of reach, an embedded cluster that would not start)."""
    try:
        service.start()
    except (OSError, RuntimeError, ValueError, StoreError) as exc:
        raise UserError(f"cannot start: {exc}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    resolve(args, SERVE, os.environ)
    try:
        limits = Limits.parse(args.limit)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    options = Options(
        master=args.master, agents=args.agents, store=args.store, listen=args.listen,
        api_token=args.api_token or api_token(args), insecure=args.insecure, role=args.role,
        token_file=Path(args.token_file) if args.token_file else None,
        principal=args.principal, secret=args.secret,
        zk=args.zk, launch_timeout=args.launch_timeout, retry_backoff=args.retry_backoff,
        locality_wait=args.locality_wait, failover_timeout=args.failover_timeout,
        zk_session_timeout=args.zk_session_timeout,
        data_roots=[Path(root) for root in args.data_root], limits=limits,
    )
    if args.executor_command:
        options.executor_command = args.executor_command
    options.executor_uris = list(args.executor_uri)
    if args.state_dir:
        options.state_dir = Path(args.state_dir)
    service = Service(options)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    start(service)
    # Everything made so far (imported modules, app, clients) lives as long as the process:
    # moved out of the collector's sight, full collections scan only what came since, and
    # no longer pause every thread (an API request among them) for ~60 ms.
    gc.freeze()
    print(json.dumps({"url": service.url}) if args.json else f"femto API at {service.url}",
          flush=True)
    try:
        stop.wait()
    finally:
        service.stop()
    return 0


def data_files(values: list[str]) -> dict[str, bytes]:
    """--data NAME=FILE.npy, each file read now: a missing one is named before the cluster
    starts, not after."""
    data = {}
    for value in values:
        name, sep, file = value.partition("=")
        if not sep or not name or not file:
            raise UserError(f"--data {value!r} must be NAME=FILE.npy")
        try:
            data[name] = Path(file).read_bytes()
        except OSError as exc:
            raise UserError(f"--data {name}: cannot read {file}: {exc.strerror}") from None
    return data


def inputs_data(spec_path: str, inputs: list[str], data: dict[str, bytes]) -> dict[str, bytes]:
    """Each input's .npy: from --data, or generated for the shipped examples (saying so).
    Never invented for a spec of the user's own: a missing input is an error naming it."""
    unused = [name for name in data if name not in inputs]
    if unused:
        raise UserError(f"--data {unused[0]}: {spec_path} reads no input of that name "
                        f"(its inputs: {', '.join(inputs) or 'none'})")
    example = is_shipped_example(Path(spec_path))
    missing = [n for n in inputs if n not in data
               and not (example and n in examples.example_names())]
    if missing:
        raise UserError(f"input {missing[0]!r} has no data: give --data {missing[0]}=FILE.npy")
    from femto.jobs.datasets import npy_bytes

    bodies = {name: data[name] for name in inputs if name in data}
    for name in inputs:
        if name not in bodies:
            array = examples.example_dataset(name)
            print(f"femto: generated example data for {name!r}: {array.size:,} values",
                  file=sys.stderr)
            bodies[name] = npy_bytes(array)
    return bodies


def is_shipped_example(path: Path) -> bool:
    """One of jobs/examples/, wherever femto is installed from: a file of that name there
    with the same text (a copy of it elsewhere is the example still; an edited one not)."""
    shipped = EXAMPLES / path.name
    try:
        return shipped.is_file() and shipped.read_bytes() == path.read_bytes()
    except OSError:
        return False


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the embedded cluster's processes are stopped."""

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def is_workflow(spec: Any) -> bool:
    return isinstance(spec, dict) and "steps" in spec


def plain_inputs(path: str, spec: Any) -> list[str]:
    """The datasets a job or workflow reads that it does not make itself (a workflow's
    "@step" inputs are made by its steps); its other mistakes are the scheduler's to name
    when it is submitted."""
    if not is_workflow(spec):
        try:
            return list(dict.fromkeys(parse_job_spec(spec).inputs))
        except SpecError as exc:
            raise UserError(f"{path}: {exc}") from None
    steps = spec["steps"]
    if not isinstance(steps, dict) or not all(isinstance(s, dict) for s in steps.values()):
        raise UserError(f"{path}: \"steps\" must be an object of job specs by step name")
    inputs = [i for step in steps.values() for i in step.get("inputs") or []]
    return list(dict.fromkeys(i for i in inputs if isinstance(i, str) and not i.startswith("@")))


def cmd_run(args: argparse.Namespace) -> int:
    exit_on_sigterm()
    spec = read_spec(args.job)
    bodies = inputs_data(args.job, plain_inputs(args.job, spec), data_files(args.data))
    if args.output:
        writable_target(Path(args.output))
    with tempfile.TemporaryDirectory(prefix="femto-run-") as state_dir:
        service = Service(Options(
            master="local", agents=args.agents, listen="127.0.0.1:0",
            state_dir=Path(state_dir), launch_timeout=args.launch_timeout,
        ))
        start(service)
        try:
            assert service.engine is not None
            engine = service.engine
            for name, body in bodies.items():
                try:
                    engine.datasets.upload(name, body, args.partitions)
                except FemtoError as exc:
                    raise UserError(f"--data {name}: {exc.message}") from None
            live = sys.stderr.isatty() and not args.json
            # DESIGN.md's contract: `femto run` prints the final JSON, so whoever captures
            # its stdout gets that; a person at a terminal gets the summary.
            args.json = args.json or not sys.stdout.isatty()
            client = Client(service.url)
            try:
                if is_workflow(spec):
                    return run_workflow(args, engine, client, spec, live)
                job, _ = engine.submit(spec)
                with display.live(sys.stderr) if live else display.quiet() as show:
                    follow(client, job["id"], show)
            finally:
                client.close()
            job = engine.job(job["id"])
            if args.output and job["state"] == "FINISHED":
                save_output(engine, job, Path(args.output))
            return finish(args, job)
        finally:
            service.stop()


def run_workflow(args: argparse.Namespace, engine: Any, client: Client, spec: Any,
                 live: bool) -> int:
    """Submitted through the API, as `femto workflow submit` would, and followed to its
    end; then the workflow and its final steps' results (--json: those as the API gives
    them, {"workflow", "jobs": {STEP: job}})."""
    workflow = client.json("POST", "/v1/workflows", json=spec)
    panel = display.WorkflowPanel()
    with display.live(sys.stderr, panel) if live else display.quiet() as show:
        follow_workflow(client, workflow["id"], show)
    workflow = client.json("GET", f"/v1/workflows/{workflow['id']}")
    jobs = final_jobs(client, workflow)
    if args.output and workflow["state"] == "FINISHED":
        if len(jobs) != 1:
            print(f"femto: -o needs one final step; this workflow has {len(jobs)}",
                  file=sys.stderr)
        else:
            save_output(engine, next(iter(jobs.values())), Path(args.output))
    if args.json:
        emit_json({"workflow": workflow, "jobs": jobs})
    else:
        emit(workflow_lines(workflow) + final_result_lines(jobs))
    return 0 if workflow["state"] == "FINISHED" else 1


def save_output(engine: Any, job: dict[str, Any], path: Path) -> None:
    output = (job["result"] or {}).get("dataset")
    if output is None:
        print("femto: -o applies to transforms; this job's result is printed",
              file=sys.stderr)
        return
    try:
        path.write_bytes(engine.datasets.whole_npy(output))
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
