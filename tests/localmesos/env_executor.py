"""A test executor that first writes the environment it was started with to `env.json` in
its working directory, then runs as raw_executor.py.

The environment is read from /proc/self/environ (what exec gave the process): Python's own
start-up may add variables to os.environ (PEP 538 locale coercion), which the agent did not.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

raw = Path("/proc/self/environ").read_bytes()
variables = dict(item.split("=", 1) for item in raw.decode().split("\0") if item)
Path("env.json").write_text(json.dumps(variables))
runpy.run_path(str(Path(__file__).with_name("raw_executor.py")), run_name="__main__")
