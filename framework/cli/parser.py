"""The `femto` command line: its subcommands, their flags and their help."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import Any, NoReturn

from femto.cli import commands, triggers
from femto.cli import operations as cli_operations
from femto.cli.errors import UserError
from femto.cli.settings import Setting

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
WEEK = 7 * 24 * 3600.0

DESCRIPTION = """\
femto runs NumPy data jobs on Apache Mesos. `serve` runs the scheduler and its HTTP API;
`run` runs one job on an embedded cluster; the other commands talk to a running scheduler
(--url, token from --api-token-file or $FEMTO_API_TOKEN). Global options may stand before
or after the command. Output is for people; --json prints the API's JSON instead."""


class Parser(argparse.ArgumentParser):
    """One line, `femto: ...`, and exit 1 for a usage mistake, as for every other mistake."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see {self.prog} --help)")

    def format_help(self) -> str:
        text = super().format_help()
        if self.prog == "femto":
            # Looked up only when asked: the operations' registry imports NumPy.
            from femto.jobs.operations import operation_names

            text += "\n" + textwrap.fill(
                f"operations (a job spec's \"operation\"): {', '.join(operation_names())}",
                width=88, subsequent_indent="  ") + "\n"
        return text


class Version(argparse.Action):
    """`--version`, whose number is read only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import version

        print(f"femto {version('femto')}")
        parser.exit()


def log_level(text: str) -> str:
    if text.upper() not in LEVELS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LEVELS)}, got {text!r}")
    return text.upper()


def at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


GLOBAL = [
    Setting("--log-level", "log level of femto's own messages on stderr: "
            + ", ".join(LEVELS), default="WARNING", type=log_level, metavar="LEVEL"),
    Setting("--json", "print the API's JSON, for scripts, instead of tables and charts",
            kind="switch"),
    Setting("--url", "the scheduler a client command talks to", default="http://127.0.0.1:8080"),
    Setting("--api-token-file", "file holding the API's bearer token, the one a client "
            "command sends and `serve` requires; without it, $FEMTO_API_TOKEN is the token",
            metavar="PATH"),
]

SERVE = [
    Setting("--master", "local (an embedded Mesos) | HOST:PORT | http(s)://HOST:PORT | "
            "zk://HOSTS/PATH", default="local"),
    Setting("--agents", "agents of --master local", default=2, type=at_least_one, metavar="N"),
    Setting("--zk", "ZooKeeper HOSTS/PATH for leader election among schedulers",
            metavar="HOSTS/PATH"),
    Setting("--zk-session-timeout", "a leader that loses ZooKeeper this long steps down",
            default=10.0, type=seconds, metavar="SECONDS"),
    Setting("--store", "sqlite:///PATH or mongodb://... (default: SQLite in --state-dir)",
            metavar="URL"),
    Setting("--listen", "address of the HTTP API", default="127.0.0.1:8080",
            metavar="HOST:PORT"),
    Setting("--token-file", "named tokens with roles: lines of NAME ROLE TOKEN, ROLE one of "
            "read, submit, command, admin", metavar="PATH"),
    Setting("--insecure", "serve a non-loopback --listen without a token", kind="switch"),
    Setting("--data-root", "a directory whose .npy files may be registered as datasets "
            "(repeatable; none by default)", kind="list", metavar="DIR"),
    Setting("--limit", "raise or lower a bound on requests: bins, window, partitions, "
            "task-cpus, task-mem (MB), upload-bytes (repeatable)", kind="list",
            metavar="NAME=VALUE"),
    Setting("--role", "Mesos role whose resources femto is offered", default="*"),
    Setting("--principal", "Mesos principal femto authenticates as"),
    Setting("--secret", "the principal's secret (visible in ps: prefer the variable)"),
    Setting("--state-dir", "the SQLite store and the embedded cluster's files "
            "(default: ~/.local/state/femto)", metavar="DIR"),
    Setting("--launch-timeout", "a launched task not running after this long is retried",
            default=60.0, type=seconds, metavar="SECONDS"),
    Setting("--retry-backoff", "delay before a failed task's first retry; doubles with each "
            "failure", default=1.0, type=seconds, metavar="SECONDS"),
    Setting("--locality-wait", "how long a task waits for an offer on the agent holding its "
            "data before taking any", default=3.0, type=seconds, metavar="SECONDS"),
    Setting("--failover-timeout", "how long Mesos keeps femto's tasks running without a "
            "scheduler", default=WEEK, type=seconds, metavar="SECONDS"),
    Setting("--executor-command", "shell command that starts femto's executor in the sandbox "
            "(default: this Python, by absolute path, -m femto.executor)", metavar="CMD"),
    Setting("--executor-uri", "fetched into each executor's sandbox before CMD runs (a wheel, "
            "a tarball: archives are unpacked); repeatable", kind="list", metavar="URI"),
]


def global_options(*, suppress: bool) -> Parser:
    parent = Parser(add_help=False)
    group = parent.add_argument_group("global options (before or after the command)")
    for setting in GLOBAL:
        setting.add_to(group, suppress=suppress)  # type: ignore[arg-type]
    return parent


def serve(args: argparse.Namespace) -> int:
    from femto.cli.local import cmd_serve  # the server stack: only for serve and run

    return cmd_serve(args)


def run(args: argparse.Namespace) -> int:
    from femto.cli.local import cmd_run

    return cmd_run(args)


def build_parser() -> Parser:
    parser = Parser(prog="femto", description=DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter,
                    parents=[global_options(suppress=False)])
    parser.add_argument("--version", action=Version, help="print femto's version and exit")
    shared = [global_options(suppress=True)]
    commands_ = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[..., int], help: str,
                where: Any = commands_) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = where.add_parser(name, help=help, description=help,
                                                         parents=shared)
        sub.set_defaults(handler=handler)
        return sub

    served = command("serve", serve, "run the scheduler and its HTTP API (each flag may "
                     "also be set by the $FEMTO_ variable its help names)")
    for setting in SERVE:
        setting.add_to(served)
    served.add_argument("--api-token", metavar="TOKEN",
                        help="the token itself (visible in ps: prefer --api-token-file, or "
                             "$FEMTO_API_TOKEN, read when neither flag is given)")

    one = command("run", run, "run one job, or a workflow, on an embedded cluster and print "
                  "its result")
    one.add_argument("job", metavar="JOB.json",
                     help="the job spec, or a workflow (a JSON object with \"steps\")")
    one.add_argument("--data", action="append", default=[], metavar="NAME=FILE.npy",
                     help="the data of the input NAME (repeatable); the examples in "
                          "jobs/examples/ generate theirs when it is not given")
    one.add_argument("--agents", type=at_least_one, default=2, metavar="N",
                     help="agents of the embedded cluster (default: 2)")
    one.add_argument("--partitions", type=at_least_one, default=None, metavar="K",
                     help="partitions per input (default: up to 8)")
    one.add_argument("--launch-timeout", type=seconds, default=60.0, metavar="SECONDS",
                     help="a launched task not running after this long is retried "
                          "(default: 60)")
    one.add_argument("-o", "--output", metavar="FILE.npy",
                     help="save a transform's output dataset here (of a workflow: its "
                          "final step's)")

    submit = command("submit", commands.submit, "submit a job spec; print its id")
    submit.add_argument("job", metavar="JOB.json", help="the job spec")
    submit.add_argument("--wait", action="store_true",
                        help="follow the job until it ends, then print its result "
                             "(Ctrl-C detaches; the job goes on)")
    command("watch", commands.watch, "follow a job until it ends (Ctrl-C detaches)"
            ).add_argument("id", metavar="ID", help="the job's id")
    jobs = command("jobs", commands.jobs, "list jobs, newest first")
    jobs.add_argument("--state", type=str.upper,
                      help="only jobs in this state (PENDING, RUNNING, FINISHED, FAILED, "
                           "CANCELLED; any case)")
    command("status", commands.status, "show a job: state, tasks, spec and result"
            ).add_argument("id", metavar="ID", help="the job's id")
    command("tasks", commands.tasks, "list a job's task attempts: host, state, times, "
            "whose fault a failure was").add_argument("id", metavar="ID", help="the job's id")
    command("cancel", commands.cancel, "cancel a job: its running tasks are killed"
            ).add_argument("id", metavar="ID", help="the job's id")
    command("result", commands.result, "print a finished job's result"
            ).add_argument("id", metavar="ID", help="the job's id")

    logs = command("logs", commands.logs, "print a task's stderr (or stdout) from its agent")
    logs.add_argument("id", metavar="ID", help="the job's id")
    logs.add_argument("partition", nargs="?", type=int,
                      help="default: the first that failed, else the first launched")
    chosen = logs.add_mutually_exclusive_group()
    chosen.add_argument("--stderr", dest="file", action="store_const", const="stderr",
                        help="the default: the program's stderr and the task's failure")
    chosen.add_argument("--stdout", dest="file", action="store_const", const="stdout",
                        help="what femto did with the task")
    logs.set_defaults(file="stderr")
    logs.add_argument("--attempt", type=at_least_one, metavar="N",
                      help="default: the latest")
    logs.add_argument("-f", "--follow", action="store_true",
                      help="keep printing until the attempt ends")

    listed = command("workflows", commands.workflows, "list workflows, newest first")
    listed.add_argument("--state", type=str.upper,
                        help="only workflows in this state (PENDING, RUNNING, FINISHED, "
                             "FAILED, CANCELLED; any case)")
    workflow = commands_.add_parser("workflow", help="submit, show, follow, cancel a "
                                    "workflow (steps of jobs run as their inputs are made)",
                                    parents=shared)
    doing = workflow.add_subparsers(dest="verb", required=True, metavar="VERB")
    flow = command("submit", commands.workflow_submit, "submit a workflow; print its id",
                   doing)
    flow.add_argument("file", metavar="WORKFLOW.json",
                      help="the workflow: {\"name\", \"steps\": {STEP: job spec}}")
    flow.add_argument("--wait", action="store_true",
                      help="follow it until it ends, each step's state and progress, then "
                           "print it and its final steps' results (Ctrl-C detaches; the "
                           "workflow goes on)")
    command("status", commands.workflow_status, "show a workflow: its state and steps",
            doing).add_argument("id", metavar="ID", help="the workflow's id")
    command("watch", commands.workflow_watch, "follow a workflow until it ends (Ctrl-C "
            "detaches)", doing).add_argument("id", metavar="ID", help="the workflow's id")
    command("cancel", commands.workflow_cancel, "cancel a workflow: its unfinished steps' "
            "jobs are cancelled", doing).add_argument("id", metavar="ID",
                                                     help="the workflow's id")

    dataset = commands_.add_parser("dataset", help="upload, download, list, delete datasets",
                                   parents=shared)
    verbs = dataset.add_subparsers(dest="verb", required=True, metavar="VERB")
    put = command("put", commands.dataset_put, "upload a .npy", verbs)
    put.add_argument("name", metavar="NAME", help="the dataset\'s name")
    put.add_argument("file", metavar="FILE.npy", help="the array to upload")
    put.add_argument("--partitions", type=at_least_one, metavar="K",
                     help="split it into K partitions along axis 0 (default: up to 8)")
    get = command("get", commands.dataset_get, "download as .npy (or HDF5: -o FILE.h5)", verbs)
    get.add_argument("name", metavar="NAME", help="the dataset\'s name")
    get.add_argument("-o", "--output", required=True, metavar="FILE.npy",
                     help="where to save it; a .h5 or .hdf5 name saves HDF5, the array at "
                          "/data (needs femto[hdf5])")
    command("list", commands.dataset_list, "list datasets", verbs)
    command("delete", commands.dataset_delete, "delete a dataset", verbs
            ).add_argument("name", metavar="NAME", help="the dataset's name")
    add_trigger_commands(commands_, command, shared)
    command("operations", cli_operations.operations, "list the operations a job spec may "
            "name here: kind, inputs, params, package (--json: each params' JSON Schema)")
    appended = command("append", commands.dataset_append, "append a .npy to an open "
                       "dataset as its next partition (standing jobs reading it process it)",
                       verbs)
    appended.add_argument("name", metavar="NAME", help="the dataset's name")
    appended.add_argument("file", metavar="FILE.npy", help="the rows to append")
    appended.add_argument("--index", type=int, metavar="N",
                          help="the partition index it must get: running the command again "
                               "after an error stores it once")
    command("close", commands.dataset_close, "close a dataset: nothing more is appended, "
            "and standing jobs reading it finish once drained", verbs
            ).add_argument("name", metavar="NAME", help="the dataset's name")
    register = command("register", commands.dataset_register, "register an array where it "
                       "lies (.npy, HDF5, Zarr) as row ranges, without a copy", verbs)
    register.add_argument("name", metavar="NAME", help="the dataset's name")
    register.add_argument("file", metavar="FILE", help="the file (a Zarr array's directory), "
                          "as the scheduler sees it, under its --data-root: a path or file:// URI")
    register.add_argument("--format", choices=["npy", "hdf5", "zarr"],
                          help="default: from FILE's suffix (.npy, .h5/.hdf5, .zarr)")
    register.add_argument("--path", metavar="ARRAY", help="the array inside an HDF5 file or "
                          "Zarr group, e.g. /group/array")
    register.add_argument("--partitions", type=at_least_one, metavar="K", required=True,
                          help="split its rows into K ranges (as numpy.array_split)")
    register.add_argument("--host", metavar="HOST", help="the agent whose disk holds it "
                          "(default: every agent sees it)")
    return parser


def add_trigger_commands(commands_: Any, command: Callable[..., argparse.ArgumentParser],
                         shared: list[Parser]) -> None:
    command("triggers", triggers.triggers, "list triggers: what each watches, how often it "
            "fired")
    trigger = commands_.add_parser("trigger", help="add, show, pause, resume, remove a "
                                   "trigger (a job run on each new file or dataset)",
                                   parents=shared)
    verbs = trigger.add_subparsers(dest="verb", required=True, metavar="VERB")
    command("add", triggers.trigger_add, "add a trigger", verbs).add_argument(
        "file", metavar="FILE",
        help='the trigger: {"name", "watch": {"directory", "pattern"} | {"datasets"}, '
             '"submit": a job spec or workflow with "@new" among its inputs}')
    for verb, handler, said in [
            ("show", triggers.trigger_show, "show a trigger: fired count, last firing, errors"),
            ("pause", triggers.trigger_pause, "pause a trigger: it fires on nothing"),
            ("resume", triggers.trigger_resume, "resume a trigger, firing on what came "
             "meanwhile"),
            ("rm", triggers.trigger_rm, "remove a trigger (its jobs and datasets stay)")]:
        command(verb, handler, said, verbs).add_argument("name", metavar="NAME",
                                                         help="the trigger's name")
