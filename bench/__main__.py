"""`python -m bench [--quick]`: every benchmark beside its peer; a table on stdout and
bench/results.json."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.api import run_api
from bench.data_job import run_data_job
from bench.failover import run_failover
from bench.master_memory import run_master_memory
from bench.memory import run_memory
from bench.report import figures, render, rows
from bench.scale import run_scale
from bench.stream import run_stream
from bench.throughput import run_throughput

RESULTS = Path(__file__).with_name("results.json")
NAMES = ("throughput", "data_job", "api", "failover", "memory", "master_memory", "scale",
         "stream")

# (full, quick) sizes, as the issue fixes them.
SIZES: dict[str, tuple[Any, Any]] = {
    "throughput": (5_000, 2_000),
    "data_job": ((5_000_000, 20_000_000), (5_000_000,)),
    # Seconds per endpoint: a p99 wants some 2,000 requests (at 200/s), quick or not.
    "api": (10.0, 10.0),
    "memory": (100_000, 100_000),
    "master_memory": (4_000, 2_500),  # jobs: the 4,000; quick still twice the buffer
    "scale": (1_000, 200),  # tasks per cluster size
    "stream": (300, 50),  # appends at 10/s: 30 s, quick 5 s (a p99 of 50 is their max)
}
# Agent counts `scale` sweeps (full, quick): the 2 to 50.
SCALE_AGENTS = ((2, 10, 25, 50), (2, 6, 12))
# Queued tasks (over 1,000 jobs) `scale` sweeps (full, quick): the 10^3 to 10^5.
SCALE_QUEUE = ((1_000, 3_000, 10_000, 30_000, 100_000), (1_000, 3_000, 10_000))


def benchmarks(quick: bool) -> dict[str, Callable[[Path], dict[str, Any]]]:
    size = {key: sizes[1] if quick else sizes[0] for key, sizes in SIZES.items()}
    return {
        "throughput": lambda d: run_throughput(int(size["throughput"]), d),
        "data_job": lambda d: run_data_job(list(size["data_job"]), d),
        "api": lambda d: run_api(size["api"], d / "api"),
        "failover": lambda d: run_failover(d / "failover"),
        "memory": lambda d: run_memory(int(size["memory"]), d / "memory"),
        "master_memory": lambda d: run_master_memory(int(size["master_memory"]),
                                                     d / "master_memory"),
        "scale": lambda d: run_scale(SCALE_AGENTS[quick], int(size["scale"]), d / "scale",
                                     SCALE_QUEUE[quick]),
        "stream": lambda d: run_stream(int(size["stream"]), d / "stream"),
    }


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average": list(os.getloadavg())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (under 3 minutes)")
    parser.add_argument("--only", action="append", choices=NAMES,
                        help="run just this benchmark (repeatable)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    args = parser.parse_args(argv)
    # The schedulers' own warnings (e.g. acknowledgements cut short at shutdown) would
    # bury the table; real failures surface as exceptions below.
    logging.basicConfig(level=logging.ERROR)
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    started = time.perf_counter()
    failed = False
    with tempfile.TemporaryDirectory(prefix="femto-bench-") as tmp:
        for name, run in benchmarks(args.quick).items():
            if args.only and name not in args.only:
                continue
            print(f"running {name} ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            try:
                results[name] = run(Path(tmp) / name)
            except Exception as exc:  # one broken benchmark must not hide the others
                traceback.print_exc()
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                failed = True
            results[name]["bench_seconds"] = time.perf_counter() - began
    results["machine"]["load_average_after"] = list(os.getloadavg())
    results["seconds"] = time.perf_counter() - started
    results["figures"] = [figure.record() for figure in figures(results)]
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(render(rows(results)))
    print(f"\n{'quick' if args.quick else 'full'} run in {results['seconds']:.0f} s on "
          f"{results['machine']['cores']} cores (load average "
          f"{results['machine']['load_average'][0]:.1f} before); results in {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
