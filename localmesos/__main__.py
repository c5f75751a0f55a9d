"""`python -m localmesos`: the embedded Mesos on its own, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from localmesos.cluster import LocalMesos
from localmesos.environment import parse_executor_environment_variables


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def executor_variables(text: str) -> dict[str, str]:
    try:
        return parse_executor_environment_variables(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localmesos", description="An embedded single-node Mesos."
    )
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=("127.0.0.1", 5050),
        metavar="HOST:PORT",
        help="master address (default 127.0.0.1:5050)",
    )
    parser.add_argument("--agents", type=int, default=2, help="number of agents (default 2)")
    parser.add_argument("--cpus", type=float, default=2.0, help="cpus per agent (default 2)")
    parser.add_argument("--mem", type=float, default=2048.0, help="MB per agent (default 2048)")
    parser.add_argument("--work-dir", default=None, help="sandboxes (default: a temporary dir)")
    parser.add_argument("--heartbeat-interval", type=float, default=15.0, metavar="SECONDS")
    parser.add_argument("--update-retry", type=float, default=2.0, metavar="SECONDS",
                        help="re-send an unacknowledged status update after this long, "
                             "doubling (default 2; Mesos itself: 10)")
    parser.add_argument("--agent-ping-timeout", type=float, default=15.0, metavar="SECONDS",
                        help="the master pings each agent this often (default 15, as Mesos)")
    parser.add_argument("--max-agent-ping-timeouts", type=int, default=5, metavar="N",
                        help="missed pings before an agent is unreachable (default 5, as Mesos)")
    parser.add_argument("--allocation-interval", type=float, default=None, metavar="SECONDS",
                        help="batch allocations this often, as Mesos' --allocation_interval "
                             "(Mesos: 1); 0: offer resources as soon as they are free; "
                             "default $LOCALMESOS_ALLOCATION_INTERVAL, else 0")
    parser.add_argument("--executor-environment-variables", type=executor_variables,
                        default={}, metavar="JSON",
                        help="a JSON object of strings every executor gets in its environment "
                             "(Mesos' --executor_environment_variables; nothing of this "
                             "process's own environment reaches executors otherwise)")
    parser.add_argument("--max-completed-tasks-per-framework", type=non_negative, default=1000,
                        metavar="N", help="finished tasks kept per framework (default 1000)")
    parser.add_argument("--max-completed-frameworks", type=non_negative, default=50,
                        metavar="N", help="finished frameworks kept (default 50)")
    parser.add_argument("--stop-on-eof", action="store_true",
                        help="also stop when standard input closes (a parent that owns the "
                             "cluster takes it along when it dies)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    host, port = args.listen
    try:
        cluster = LocalMesos(
            args.agents,
            args.cpus,
            args.mem,
            host=host,
            port=port,
            work_dir=args.work_dir,
            heartbeat_interval=args.heartbeat_interval,
            update_retry=args.update_retry,
            agent_ping_timeout=args.agent_ping_timeout,
            max_agent_ping_timeouts=args.max_agent_ping_timeouts,
            allocation_interval=args.allocation_interval,
            executor_environment_variables=args.executor_environment_variables,
            max_completed_tasks_per_framework=args.max_completed_tasks_per_framework,
            max_completed_frameworks=args.max_completed_frameworks,
        )
        cluster.start()
    except (ValueError, RuntimeError) as exc:
        print(f"localmesos: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.stop_on_eof:

        def stop_at_eof() -> None:
            sys.stdin.buffer.read()  # returns at EOF: the parent closed it, or died
            stop.set()

        threading.Thread(target=stop_at_eof, name="stop-on-eof", daemon=True).start()
    print(cluster.url, flush=True)
    stop.wait()
    cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
