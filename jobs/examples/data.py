"""Deterministic example inputs, generated locally, for the example job specs.

`femto run jobs/examples/<spec>.json` calls `example_dataset` for every input
not given with `--data`, so the quick start needs no download.
"""

from collections.abc import Callable

import numpy as np

SEED = 20240601


def _events() -> np.ndarray:
    """2,000,000 transverse momenta in GeV: a steeply falling spectrum above a 1 GeV threshold."""
    rng = np.random.default_rng(SEED)
    return 1.0 + rng.exponential(scale=8.0, size=2_000_000)


def _signal() -> np.ndarray:
    """1,000,000 samples of a slow oscillation buried in noise, for smoothing."""
    rng = np.random.default_rng(SEED + 1)
    t = np.arange(1_000_000, dtype=np.float64)
    return 10.0 * np.sin(2 * np.pi * t / 50_000) + rng.normal(scale=3.0, size=t.size)


_GENERATORS: dict[str, Callable[[], np.ndarray]] = {"events": _events, "signal": _signal}


def example_names() -> list[str]:
    return sorted(_GENERATORS)


def example_dataset(name: str) -> np.ndarray:
    """The example input called `name`; the same array on every call and machine."""
    try:
        generate = _GENERATORS[name]
    except KeyError:
        raise KeyError(
            f"no example dataset {name!r}; examples: {', '.join(example_names())}"
        ) from None
    return generate()
