"""The connection state machine shared by the scheduler and executor drivers."""

from __future__ import annotations

import enum
import threading


class DriverState(enum.Enum):
    IDLE = "idle"  # created, not started
    CONNECTING = "connecting"  # SUBSCRIBE sent (or about to be), no SUBSCRIBED yet
    SUBSCRIBED = "subscribed"  # SUBSCRIBED received: calls may be made
    DISCONNECTED = "disconnected"  # stream lost, waiting to reconnect
    STOPPED = "stopped"  # final


TRANSITIONS: dict[DriverState, frozenset[DriverState]] = {
    DriverState.IDLE: frozenset({DriverState.CONNECTING, DriverState.STOPPED}),
    DriverState.CONNECTING: frozenset(
        {DriverState.SUBSCRIBED, DriverState.DISCONNECTED, DriverState.STOPPED}
    ),
    DriverState.SUBSCRIBED: frozenset({DriverState.DISCONNECTED, DriverState.STOPPED}),
    DriverState.DISCONNECTED: frozenset({DriverState.CONNECTING, DriverState.STOPPED}),
    DriverState.STOPPED: frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


class StateMachine:
    """Thread-safe holder of a DriverState that only moves along TRANSITIONS."""

    def __init__(self) -> None:
        self._state = DriverState.IDLE
        self._changed = threading.Condition(threading.RLock())

    @property
    def state(self) -> DriverState:
        with self._changed:
            return self._state

    def move(self, new: DriverState) -> DriverState:
        """Move to ``new`` (staying put is allowed); return the previous state."""
        with self._changed:
            old = self._state
            if new is not old and new not in TRANSITIONS[old]:
                raise IllegalTransition(f"driver cannot go from {old.value} to {new.value}")
            self._state = new
            self._changed.notify_all()
            return old

    def advance(self, new: DriverState) -> bool:
        """Move the I/O side forward; False (and no move) once stop() won the race."""
        with self._changed:
            if self._state is DriverState.STOPPED:
                return False
            self.move(new)
            return True

    def stop(self) -> DriverState:
        """Move to STOPPED from wherever the driver is; return the previous state."""
        return self.move(DriverState.STOPPED)

    def wait_for(self, states: set[DriverState], timeout: float | None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._state in states, timeout)
