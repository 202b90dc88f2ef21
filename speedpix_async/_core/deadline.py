"""One deadline per call, and the clock the core reads (injectable in tests)."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable

import anyio
import attrs

__all__ = ["SYSTEM_CLOCK", "Clock", "Deadline", "DeadlineExceeded"]


@attrs.frozen
class Clock:
    """Where the core gets time, sleep and randomness from."""

    wall: Callable[[], float] = time.time
    """Epoch seconds (signing, ``Retry-After`` dates)."""
    monotonic: Callable[[], float] = time.monotonic
    """Deadlines and elapsed times."""
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    random: Callable[[], float] = random.random
    """Jitter."""


SYSTEM_CLOCK = Clock()


class DeadlineExceeded(Exception):
    """Internal: a call's deadline passed. Services turn it into their timeout error.

    ``request_sent`` is True when the deadline struck while a request was on the wire (so a
    non-idempotent call may have been processed) and False when nothing was in flight.
    """

    def __init__(self, *, request_sent: bool = False) -> None:
        super().__init__("the deadline passed")
        self.request_sent = request_sent


class Deadline:
    """``timeout`` seconds from now, shared by every step of one call."""

    __slots__ = ("_monotonic", "at", "timeout")

    def __init__(self, timeout: float, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.timeout = timeout
        self._monotonic = clock.monotonic
        self.at = clock.monotonic() + timeout

    def __repr__(self) -> str:
        return f"<Deadline {self.timeout:g}s, {self.remaining():.3f}s left>"

    def remaining(self) -> float:
        return self.at - self._monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def scope(self) -> anyio.CancelScope:
        """A cancel scope that ends at the deadline (check ``cancelled_caught`` after it)."""
        return anyio.move_on_after(max(0.0, self.remaining()))
