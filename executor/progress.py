"""A program's own word on its progress: the file named by FEMTO_PROGRESS_FILE, where the
program writes a fraction (0.5, or 0.5 on a line of its own each time); the last number
written counts. A program that writes nothing is shown by its elapsed time instead."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

PROGRESS_VARIABLE = "FEMTO_PROGRESS_FILE"
MAX_READ = 4096  # the tail read at each look: a program appending lines never costs more


class ProgressFile:
    """Polled by the program's supervisor: hands each new fraction to `report`."""

    def __init__(self, path: Path, report: Callable[[float], None]) -> None:
        self.path = path
        self.report = report
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) last read
        self.latest: float | None = None

    def poll(self) -> None:
        """Read the file if it changed, and report its latest fraction (again: reports
        are rate-limited downstream, and the last one must get through)."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return  # not written yet
        if (stat.st_mtime_ns, stat.st_size) != self._seen:
            self._seen = (stat.st_mtime_ns, stat.st_size)
            self.latest = self._read() if stat.st_size else self.latest
        if self.latest is not None:
            self.report(self.latest)

    def _read(self) -> float | None:
        try:
            with self.path.open("rb") as f:
                f.seek(max(0, self._seen[1] - MAX_READ) if self._seen else 0)
                words = f.read(MAX_READ).decode("ascii", errors="replace").split()
        except OSError:
            return self.latest
        for word in reversed(words):
            try:
                value = float(word)
            except ValueError:
                continue
            if value == value:  # not NaN
                return min(1.0, max(0.0, value))
        logger.debug("progress file %s holds no fraction", self.path)
        return self.latest


@contextlib.contextmanager
def progress_file(report: Callable[[float], None] | None
                  ) -> Iterator[tuple[dict[str, str], ProgressFile | None]]:
    """The environment to add for a program (the file's name), and the file to poll;
    nothing without `report`. The file lives in a private directory removed after."""
    if report is None:
        yield {}, None
        return
    with tempfile.TemporaryDirectory(prefix="femto-progress-") as directory:
        path = Path(directory) / "progress"
        yield {PROGRESS_VARIABLE: str(path)}, ProgressFile(path, report)
