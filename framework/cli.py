"""The `femto` command (DESIGN.md, Command line)."""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from femto.client import ApiError, Client
from femto.errors import FemtoError
from femto.jobs.limits import Limits
from femto.lifecycle import TERMINAL_JOB_STATES
from femto.logs import configure_logging
from femto.service import Options, Service

DONE = {s.value for s in TERMINAL_JOB_STATES}


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


# ----- serve and run: this process is the scheduler -----


def start(service: Service) -> None:
    """Start the service, or exit naming why it cannot (an address taken, a bad --listen,
    an embedded cluster that would not start)."""
    try:
        service.start()
    except (OSError, RuntimeError, ValueError) as exc:
        raise SystemExit(f"femto: cannot start: {exc}") from exc


def api_token(args: argparse.Namespace) -> str | None:
    """The token from --api-token-file, else $FEMTO_API_TOKEN (never from the command line,
    where every user of the host sees it in `ps`)."""
    if args.api_token_file is None:
        return os.environ.get("FEMTO_API_TOKEN") or None
    try:
        token = Path(args.api_token_file).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"femto: cannot read --api-token-file: {exc}") from exc
    if not token:
        raise SystemExit(f"femto: --api-token-file {args.api_token_file} is empty")
    return token


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        limits = Limits.parse(args.limit)
    except ValueError as exc:
        raise SystemExit(f"femto: {exc}") from exc
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
    print(f"femto API at {service.url}", flush=True)
    try:
        stop.wait()
    finally:
        service.stop()
    return 0


def load_spec(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"femto: cannot read job spec {path}: {exc}") from exc


def parse_data_args(values: list[str]) -> dict[str, Path]:
    data = {}
    for value in values:
        name, sep, file = value.partition("=")
        if not sep or not name or not file:
            raise SystemExit(f"femto: --data {value!r} must be NAME=FILE.npy")
        data[name] = Path(file)
    return data


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the embedded cluster's processes are stopped."""

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def cmd_run(args: argparse.Namespace) -> int:
    from femto.jobs.datasets import npy_bytes
    from femto.jobs.examples.data import example_dataset

    exit_on_sigterm()
    spec = load_spec(args.job)
    data = parse_data_args(args.data)
    inputs = spec.get("inputs", []) if isinstance(spec, dict) else []
    with tempfile.TemporaryDirectory(prefix="femto-run-") as state_dir:
        service = Service(Options(
            master="local", agents=args.agents, listen="127.0.0.1:0",
            state_dir=Path(state_dir), launch_timeout=args.launch_timeout,
        ))
        start(service)
        try:
            assert service.engine is not None
            engine = service.engine
            for name in dict.fromkeys(i for i in inputs if isinstance(i, str)):
                if name in data:
                    body = data[name].read_bytes()
                else:
                    try:
                        body = npy_bytes(example_dataset(name))
                    except KeyError:
                        print(f"femto: input {name!r} needs --data {name}=FILE.npy",
                              file=sys.stderr)
                        return 1
                engine.datasets.upload(name, body, args.partitions)
            job, _ = engine.submit(spec)
            while job["state"] not in DONE:
                time.sleep(0.05)
                job = engine.job(job["id"])
            if args.output and job["state"] == "FINISHED":
                output = (job["result"] or {}).get("dataset")
                if output is None:
                    print("femto: -o applies to transforms; this job's result is printed",
                          file=sys.stderr)
                else:
                    Path(args.output).write_bytes(engine.datasets.whole_npy(output))
            print_json(job)
            return 0 if job["state"] == "FINISHED" else 1
        except FemtoError as exc:
            print_json({"error": exc.message, "details": exc.details})
            return 1
        finally:
            service.stop()


# ----- client commands: talk to a running scheduler -----


def progress_bar(job: dict[str, Any]) -> str:
    tasks = job["tasks"]
    total = max(1, tasks["total"])
    width = 30
    filled = int(width * tasks["finished"] / total)
    return (f"\r[{'#' * filled}{'.' * (width - filled)}] {tasks['finished']}/{tasks['total']}"
            f" tasks, {tasks['running']} running, {tasks['failed']} failed  {job['state']:<9}")


def cmd_submit(args: argparse.Namespace, client: Client) -> int:
    job = client.json("POST", "/v1/jobs", json=load_spec(args.job))
    if not args.wait:
        print_json(job)
        return 0
    show = sys.stderr.isatty()
    while job["state"] not in DONE:
        if show:
            print(progress_bar(job), end="", file=sys.stderr, flush=True)
        time.sleep(0.5)
        job = client.json("GET", f"/v1/jobs/{job['id']}")
    if show:
        print(progress_bar(job), file=sys.stderr)
    print_json(job)
    return 0 if job["state"] == "FINISHED" else 1


def cmd_jobs(args: argparse.Namespace, client: Client) -> int:
    params = {"state": args.state} if args.state else {}
    for job in client.pages("/v1/jobs", params=params):
        t = job["tasks"]
        print(f"{job['id']}  {job['state']:<9}  {t['finished']:>5}/{t['total']:<5}  "
              f"{job['operation']:<12}  {job['name']}")
    return 0


def cmd_status(args: argparse.Namespace, client: Client) -> int:
    print_json(client.json("GET", f"/v1/jobs/{args.id}"))
    return 0


def cmd_cancel(args: argparse.Namespace, client: Client) -> int:
    print_json(client.json("DELETE", f"/v1/jobs/{args.id}"))
    return 0


def cmd_result(args: argparse.Namespace, client: Client) -> int:
    job = client.json("GET", f"/v1/jobs/{args.id}")
    if job["state"] != "FINISHED":
        reason = f": {job['error']}" if job.get("error") else ""
        print(f"femto: job {args.id} is {job['state']}{reason}", file=sys.stderr)
        return 1
    print_json(job["result"])
    return 0


def cmd_logs(args: argparse.Namespace, client: Client) -> int:
    partition = args.partition
    if partition is None:
        # The first task that failed is the one whose log explains the job.
        tasks = client.json("GET", f"/v1/jobs/{args.id}/tasks")
        failed = [t for t in tasks if t["attempts"] and t["attempts"][-1]["state"] in
                  ("TASK_FAILED", "TASK_ERROR")]
        picked = failed or [t for t in tasks if t["attempts"]] or tasks
        partition = picked[0]["partition"] if picked else 0
        print(f"femto: partition {partition} of job {args.id}", file=sys.stderr)
    try:
        for chunk in client.task_log(args.id, partition, args.file, follow=args.follow,
                                     attempt=args.attempt):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_dataset_put(args: argparse.Namespace, client: Client) -> int:
    params = {"partitions": args.partitions} if args.partitions else {}
    with open(args.file, "rb") as body:
        print_json(client.json("PUT", f"/v1/datasets/{args.name}", params=params,
                               content=body.read(),
                               headers={"Content-Type": "application/octet-stream"}))
    return 0


def cmd_dataset_get(args: argparse.Namespace, client: Client) -> int:
    response = client.call("GET", f"/v1/datasets/{args.name}/data")
    Path(args.output).write_bytes(response.content)
    return 0


def cmd_dataset_list(args: argparse.Namespace, client: Client) -> int:
    for ds in client.json("GET", "/v1/datasets"):
        print(f"{ds['name']:<32} {ds['dtype']:<6} {ds['shape']!s:<16} "
              f"{ds['partitions']} partitions")
    return 0


# ----- arguments -----


def at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="femto", description=__doc__)
    parser.add_argument("--log-level", default="WARNING", help="default: WARNING")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the scheduler and its HTTP API")
    serve.add_argument("--master", default="local",
                       help="local | HOST:PORT | http(s)://HOST:PORT | zk://HOSTS/PATH")
    serve.add_argument("--agents", type=at_least_one, default=2,
                       help="agents of --master local")
    serve.add_argument("--zk", help="HOSTS/PATH for leader election")
    serve.add_argument("--zk-session-timeout", type=float, default=10.0, metavar="SECONDS")
    serve.add_argument("--store", help="sqlite:///PATH or mongodb://...")
    serve.add_argument("--listen", default="127.0.0.1:8080")
    serve.add_argument("--api-token-file", metavar="PATH",
                       help="file holding the bearer token every /v1 call must carry "
                            "(default: $FEMTO_API_TOKEN)")
    serve.add_argument("--api-token", help="the token itself (visible in ps: prefer the file)")
    serve.add_argument("--token-file", metavar="PATH",
                       help="named tokens with roles: lines of NAME ROLE TOKEN, ROLE one of "
                            "read, submit, command, admin")
    serve.add_argument("--insecure", action="store_true",
                       help="serve a non-loopback --listen without a token")
    serve.add_argument("--data-root", action="append", default=[], metavar="DIR",
                       help="a directory whose .npy files may be registered as datasets "
                            "(repeatable; none by default)")
    serve.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                       help="raise or lower a bound on requests: bins, window, partitions, "
                            "task-cpus, task-mem (MB), upload-bytes (repeatable)")
    serve.add_argument("--role", default="*")
    serve.add_argument("--principal")
    serve.add_argument("--secret")
    serve.add_argument("--state-dir", help="default: $FEMTO_STATE_DIR or ~/.local/state/femto")
    serve.add_argument("--launch-timeout", type=float, default=60.0, metavar="SECONDS")
    serve.add_argument("--retry-backoff", type=float, default=1.0, metavar="SECONDS",
                       help="delay before the first retry; doubles with each failure")
    serve.add_argument("--locality-wait", type=float, default=3.0, metavar="SECONDS")
    serve.add_argument("--failover-timeout", type=float, default=7 * 24 * 3600.0,
                       metavar="SECONDS")
    serve.add_argument("--executor-command", metavar="CMD",
                       help="shell command that starts femto's executor in the sandbox "
                            "(default: this Python, by absolute path, -m femto.executor)")
    serve.add_argument("--executor-uri", action="append", default=[], metavar="URI",
                       help="fetched into each executor's sandbox before CMD runs (a wheel, "
                            "a tarball: archives are unpacked); repeatable")
    serve.set_defaults(local=cmd_serve)

    run = commands.add_parser("run", help="run one job on an embedded cluster")
    run.add_argument("job", metavar="JOB.json")
    run.add_argument("--data", action="append", default=[], metavar="NAME=FILE.npy")
    run.add_argument("--agents", type=at_least_one, default=2)
    run.add_argument("--partitions", type=int, default=None,
                     help="partitions per input (default: up to 8)")
    run.add_argument("--launch-timeout", type=float, default=60.0, metavar="SECONDS")
    run.add_argument("-o", "--output", metavar="FILE.npy",
                     help="save a transform's output dataset here")
    run.set_defaults(local=cmd_run)

    def client_command(name: str, handler: Callable[..., int], help: str,
                       where: Any = commands) -> argparse.ArgumentParser:
        sub = where.add_parser(name, help=help)
        sub.add_argument("--url", help="default: $FEMTO_URL or http://127.0.0.1:8080")
        sub.set_defaults(remote=handler)
        return sub

    submit = client_command("submit", cmd_submit, "submit a job spec")
    submit.add_argument("job", metavar="JOB.json")
    submit.add_argument("--wait", action="store_true", help="wait, showing progress")
    jobs = client_command("jobs", cmd_jobs, "list jobs")
    jobs.add_argument("--state")
    for name, handler, text in (("status", cmd_status, "show a job"),
                                ("cancel", cmd_cancel, "cancel a job"),
                                ("result", cmd_result, "print a finished job's result")):
        client_command(name, handler, text).add_argument("id")

    logs = client_command("logs", cmd_logs, "print a task's stderr (or stdout) from its agent")
    logs.add_argument("id")
    logs.add_argument("partition", nargs="?", type=int,
                      help="default: the first that failed, else the first launched")
    chosen = logs.add_mutually_exclusive_group()
    chosen.add_argument("--stderr", dest="file", action="store_const", const="stderr",
                        help="the default: the program's stderr and the task's failure")
    chosen.add_argument("--stdout", dest="file", action="store_const", const="stdout",
                        help="what femto did with the task")
    logs.set_defaults(file="stderr")
    logs.add_argument("--attempt", type=at_least_one, help="default: the latest")
    logs.add_argument("-f", "--follow", action="store_true",
                      help="keep printing until the attempt ends")

    dataset = commands.add_parser("dataset", help="upload, download, list datasets")
    verbs = dataset.add_subparsers(dest="verb", required=True)
    put = client_command("put", cmd_dataset_put, "upload a .npy", verbs)
    put.add_argument("name")
    put.add_argument("file", metavar="FILE.npy")
    put.add_argument("--partitions", type=int)
    get = client_command("get", cmd_dataset_get, "download as .npy", verbs)
    get.add_argument("name")
    get.add_argument("-o", "--output", required=True, metavar="FILE.npy")
    client_command("list", cmd_dataset_list, "list datasets", verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    if hasattr(args, "local"):
        return int(args.local(args))
    client = Client(args.url)
    try:
        return int(args.remote(args, client))
    except ApiError as exc:
        print(f"femto: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()

