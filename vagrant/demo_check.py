"""NumPy's side of demo.sh: the example inputs, and each job's result beside NumPy's.

    python demo_check.py data NAME OUT.npy          the example dataset NAME
    python demo_check.py field KEY[.KEY...] < JSON  one field of a JSON document ("" if absent)
    python demo_check.py compare SPEC JOB DIR       femto's result beside NumPy's; DIR holds
                                                    INPUT.npy for each input and OUTPUT.npy
                                                    for a transform's output dataset
    python demo_check.py attempts JOB TASKS         tasks and attempts of a job

`compare` exits 1 when the two differ. NumPy computes on the whole array, as the job
spec's operation is defined (DESIGN.md, Operations); `command` jobs in the demo copy
their input, so their answer is the input itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's jobs/

QUERIES = {"count", "sum", "mean", "min", "max", "histogram"}
RELATIVE = 1e-9  # DESIGN.md: sums and means within 1e-9 of NumPy's


def selected(x: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    where = params.get("where") or {}
    keep = np.ones(x.shape, dtype=bool)
    if where.get("min") is not None:
        keep &= x >= where["min"]
    if where.get("max") is not None:
        keep &= x < where["max"]
    return x[keep]


def sliding_mean(x: np.ndarray, window: int) -> np.ndarray:
    head = np.cumsum(x[: window - 1]) / np.arange(1, min(window, x.size + 1))
    full = np.lib.stride_tricks.sliding_window_view(x, window).mean(axis=1)
    return np.concatenate([head, full])


def answer(spec: dict[str, Any], inputs: list[np.ndarray]) -> Any:
    op, params = spec["operation"], spec.get("params", {})
    if op in QUERIES:
        x = selected(inputs[0], params)
        if op == "histogram":
            counts, edges = np.histogram(x, params["bins"], tuple(params["range"]))
            return {"counts": counts.tolist(), "edges": edges.tolist()}
        if op == "count":
            return {"value": int(x.size)}
        return {"value": float(getattr(np, op)(x))}
    if op == "real2bin":
        return np.floor(inputs[0]).astype(np.int64) % 2
    if op == "add":
        return inputs[0] + inputs[1]
    if op == "sliding_mean":
        return sliding_mean(inputs[0], params["window"])
    if op == "command":
        return inputs[0]
    raise SystemExit(f"demo_check: no NumPy answer for operation {op!r}")


def close(got: np.ndarray, want: np.ndarray) -> tuple[bool, str]:
    if got.shape != want.shape or got.dtype != want.dtype:
        return False, f"{got.dtype}{list(got.shape)} against {want.dtype}{list(want.shape)}"
    if got.dtype.kind in "iub":
        return bool(np.array_equal(got, want)), "identical" if np.array_equal(got, want) else ""
    error = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)), initial=0.0))
    return error <= RELATIVE, f"largest relative difference {error:.1e}"


def show_array(a: np.ndarray) -> str:
    head = ", ".join(f"{v:.6g}" for v in a[:3].tolist())
    return f"{a.size} x {a.dtype} [{head}, ...] sum {a.sum(dtype=np.float64):.12g}"


def compare(spec_path: str, job_path: str, folder: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    job = json.loads(Path(job_path).read_text())
    where = Path(folder)
    print(f"{spec['name']} ({spec['operation']}): {job['state']}, {job['tasks']['total']} tasks,"
          f" {job['attempts']} attempts")
    if job["state"] != "FINISHED":
        print(f"  femto  failed: {job.get('error')}")
        return 1
    inputs = [np.load(where / f"{name}.npy") for name in spec["inputs"]]
    want = answer(spec, inputs)
    result = job["result"]
    if isinstance(want, np.ndarray):
        got = np.load(where / f"{result['dataset']}.npy")
        ok, how = close(got, want)
        print(f"  femto  {show_array(got)}   (dataset {result['dataset']})")
        print(f"  numpy  {show_array(want)}")
    elif "counts" in want:
        ok = result["counts"] == want["counts"] and result["edges"] == want["edges"]
        how = "identical counts and edges" if ok else "counts or edges differ"
        for who, r in (("femto", result), ("numpy", want)):
            print(f"  {who}  {len(r['counts'])} bins, {sum(r['counts'])} entries,"
                  f" counts {r['counts'][:5]}...")
    else:
        got_v, want_v = result["value"], want["value"]
        if isinstance(want_v, int) or spec["operation"] in ("min", "max"):
            ok, how = got_v == want_v, "identical"
        else:
            error = abs(got_v - want_v) / max(1.0, abs(want_v))
            ok, how = error <= RELATIVE, f"relative difference {error:.1e}"
        print(f"  femto  {got_v!r}")
        print(f"  numpy  {want_v!r}")
    print(f"  {'equal' if ok else 'DIFFERENT'}: {how}")
    return 0 if ok else 1


def attempts(job_path: str, tasks_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    tasks = json.loads(Path(tasks_path).read_text())
    again = [t["partition"] for t in tasks if len(t["attempts"]) > 1]
    t = job["tasks"]
    print(f"  {t['finished']}/{t['total']} tasks finished, {job['attempts']} attempts;"
          f" partitions that ran more than once: {again or 'none'}")
    return 0


def field(path: str) -> int:
    value: Any = json.load(sys.stdin)
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return 0
        value = value[key]
    print(value if isinstance(value, str) else json.dumps(value))
    return 0


def main(argv: list[str]) -> int:
    match argv:
        case ["data", name, out]:
            from femto.jobs.examples.data import example_dataset

            np.save(out, example_dataset(name))
            return 0
        case ["field", path]:
            return field(path)
        case ["compare", spec, job, folder]:
            return compare(spec, job, folder)
        case ["attempts", job, tasks]:
            return attempts(job, tasks)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
