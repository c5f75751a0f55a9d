"""FixedDelay: calls run after the delay, in submission order, and close drops the rest."""

from __future__ import annotations

import threading
import time

from femto.executor.delayed import FixedDelay


def test_calls_run_in_order_no_sooner_than_the_delay() -> None:
    delayed = FixedDelay(0.1, "test-delayed")
    ran: list[tuple[int, float]] = []
    done = threading.Event()
    submitted = time.monotonic()
    for i in range(3):
        delayed.submit(lambda i=i: ran.append((i, time.monotonic())))
    delayed.submit(done.set)
    try:
        assert done.wait(5)
        assert [i for i, _ in ran] == [0, 1, 2]
        assert all(at - submitted >= 0.1 for _, at in ran)
    finally:
        delayed.close()


def test_a_failing_call_does_not_stop_later_ones() -> None:
    delayed = FixedDelay(0.0, "test-delayed")
    done = threading.Event()
    delayed.submit(lambda: 1 / 0)
    delayed.submit(done.set)
    try:
        assert done.wait(5)
    finally:
        delayed.close()


def test_close_drops_calls_not_yet_due() -> None:
    delayed = FixedDelay(30.0, "test-delayed")
    ran: list[int] = []
    delayed.submit(lambda: ran.append(1))
    started = time.monotonic()
    delayed.close()
    assert time.monotonic() - started < 5
    assert ran == []
