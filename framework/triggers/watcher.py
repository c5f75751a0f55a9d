"""One directory, watched with watchfiles (inotify on Linux): which of its files are
complete, told once each to whoever fires.

watchfiles reports a file as added, modified or deleted, not when its writer closes it: a
slowly written file is modified many times, and a file renamed into place is added once.
So an event only puts a file up for a look, and the file counts once two looks a quiet
interval (`settle`) apart find it unchanged and exactly as long as its .npy header says
(femto.triggers.rules.complete). A file that stays incomplete and unchanged for `stall`
seconds is reported as an error and looked at again when it changes."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import watchfiles

from femto.triggers.files import look
from femto.triggers.rules import Seen, complete

log = logging.getLogger(__name__)

RETRY = 2.0  # seconds before watching a directory that vanished (or failed) again


class DirectoryWatcher:
    def __init__(self, directory: str, counts: Callable[[str], bool],
                 ready: Callable[[str], None], error: Callable[[str | None, str], None], *,
                 settle: float, stall: float, rescan: float) -> None:
        self.directory = directory
        self.counts = counts  # whether a file name may still fire
        self.ready = ready  # a complete file's name, once
        self.error = error
        self.settle, self.stall, self.rescan_every = settle, stall, rescan
        self._looks: dict[str, tuple[Seen | None, float, float]] = {}  # last look, at, since
        self._given_up: dict[str, Seen] = {}  # stalled, until they change
        self._rescan = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"femto-watch:{directory}",
                                        daemon=True)

    def start(self) -> None:
        self._rescan.set()  # files that came while nobody watched
        self._thread.start()

    def halt(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self.halt()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def rescan_soon(self) -> None:
        self._rescan.set()

    def _run(self) -> None:
        reported = False
        while not self._stop.is_set():
            try:
                self._watch()
            except Exception as exc:  # a directory gone, or the watch failed: again later
                if not reported:
                    self.error(None, f"cannot watch {self.directory}: {exc}")
                    reported = True
                self._stop.wait(RETRY)

    def _watch(self) -> None:
        rescanned = 0.0
        changes: set[tuple[watchfiles.Change, str]]
        for changes in watchfiles.watch(
                self.directory, watch_filter=None, recursive=False, stop_event=self._stop,
                debounce=int(self.settle * 1000), rust_timeout=int(self.settle * 500) or 1,
                yield_on_timeout=True, raise_interrupt=False):
            now = time.monotonic()
            # The watch runs first: a file that lands during the scan is seen either way.
            if self._rescan.is_set() or now - rescanned > self.rescan_every:
                self._rescan.clear()
                rescanned = now
                self._scan()
            for change, path in changes:
                name = os.path.basename(path)
                if change == watchfiles.Change.deleted:
                    self._looks.pop(name, None)
                elif self.counts(name):  # not recursive: every path is a child
                    self._note(name, now)
            self._settle(now)

    def _scan(self) -> None:
        with os.scandir(self.directory) as entries:
            names = [e.name for e in entries]
        now = time.monotonic()
        for name in names:
            if name not in self._looks and self.counts(name):
                self._note(name, now)

    def _note(self, name: str, now: float) -> None:
        if name not in self._looks:
            self._looks[name] = (None, 0.0, now)

    def _settle(self, now: float) -> None:
        for name, (before, at, since) in list(self._looks.items()):
            if now - at < self.settle:
                continue
            seen = look(os.path.join(self.directory, name))
            if seen is None:  # gone, or not a file
                del self._looks[name]
            elif before is not None and complete(before, seen):
                del self._looks[name]
                self._given_up.pop(name, None)
                self.ready(name)
            elif seen == before and now - since > self.stall:
                del self._looks[name]
                if self._given_up.get(name) != seen:
                    self._given_up[name] = seen
                    self.error(name, f"not a complete .npy after {self.stall:g} s "
                               f"unchanged ({seen.size} bytes; its header says "
                               f"{seen.expected if seen.expected is not None else 'nothing'})")
            else:
                self._looks[name] = (seen, now, since if seen == before else now)
