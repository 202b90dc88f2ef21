"""Polling a task until it ends (DESIGN §4.5).

:class:`Poller` owns one wait's deadline and schedule. Each :meth:`Poller.next` sleeps until the
next scheduled poll and fetches one progress report. The schedule follows the server's own
estimates — ``estimatedDurationInSeconds`` before the first report, ``etaRelative`` after — so a
poll lands just after the expected end: sparse early, dense near completion, never tighter than
``min_interval`` nor sparser than ``max_interval``, and jittered upward so thousands of
predictions do not poll in lock-step.

The deadline is enforced *inside* ``next()`` (around its sleep and fetch), never around a loop
that yields: ``watch()`` is an async generator, and a cancel scope must not span a ``yield``.
"""

from __future__ import annotations

import inspect
import logging
import random
import time
from collections.abc import Awaitable
from typing import Callable, Union

import anyio

from ._config import PollPolicy
from ._errors import APIConnectionError, APIError, SpeedPixError
from ._retry import Decision, decide
from .models import Progress

__all__ = [
    "DeadlineExceeded",
    "Poller",
    "ProgressCallback",
    "emit",
    "is_transient",
    "next_poll_delay",
]

log = logging.getLogger("speedpix_async")

ProgressCallback = Callable[[Progress], Union[Awaitable[None], None]]


class DeadlineExceeded(Exception):
    """Internal: the wait's deadline passed. Callers turn it into PredictionTimeoutError."""


def next_poll_delay(
    policy: PollPolicy,
    *,
    eta: float | None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds until the next poll, given the server's latest estimate of the time remaining.

    * fixed ``policy.interval`` → that interval, exactly (the caller asked for it);
    * a known ETA → just after it: ``eta + margin + ratio·eta``, clamped to
      ``[min_interval, max_interval]``;
    * no ETA → ``fallback_interval``.

    The result is then stretched by a random ``0..jitter`` fraction, at most ``jitter_cap``
    seconds (never shortened: polling early only costs a request; and a capped stretch spreads
    a fan-out's polls without adding much lag).
    """
    if policy.interval is not None:
        return policy.interval
    if eta is None or eta != eta or eta < 0:  # unknown, NaN or nonsense
        base = policy.fallback_interval
    else:
        base = eta + policy.eta_margin + policy.eta_margin_ratio * eta
    base = min(policy.max_interval, max(policy.min_interval, base))
    return base + min(base * policy.jitter, policy.jitter_cap) * rand()


async def emit(callback: ProgressCallback | None, report: Progress) -> None:
    """Call a user's ``on_progress`` (plain or async function) with one report."""
    if callback is None:
        return
    result = callback(report)
    if inspect.isawaitable(result):
        await result


def is_transient(error: SpeedPixError) -> bool:
    """Whether an error while *polling* is worth waiting out rather than failing the wait."""
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIError):
        return error.transient or decide(error, idempotent=True) is Decision.RETRY
    return False


class Poller:
    """The polling state of one wait: deadline, last report and schedule.

    ``fetch(expect_end)`` returns the next report; ``expect_end`` is True when the poll was aimed
    at the end the server predicted, so the caller may ask for the result straight away (one
    request instead of a progress poll plus a result fetch). A report that is not terminal after
    such a poll carries no fresh ETA, so the next poll refreshes it soon with ``expect_end``
    False.
    """

    def __init__(
        self,
        fetch: Callable[[bool], Awaitable[Progress]],
        *,
        policy: PollPolicy,
        timeout: float,
        first_eta: float | None,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._fetch = fetch
        self._policy = policy
        self.timeout = timeout
        self._monotonic = monotonic
        self._rand = rand
        self.deadline = monotonic() + timeout
        # Before the first report we aim at the submit's estimate; a resumed wait (no estimate)
        # asks right away so it learns the task's state.
        self._eta: float | None = first_eta
        self._immediate = first_eta is None
        self._refresh = False

    def remaining(self) -> float:
        return self.deadline - self._monotonic()

    def retry_pause(self) -> float:
        """How long to wait before asking again after a transient failure (within the
        deadline)."""
        return max(0.0, min(self._policy.fallback_interval, self.remaining()))

    def _plan(self) -> tuple[float, bool]:
        """Seconds until the next poll, and whether it is aimed at the predicted end."""
        if self._immediate:
            self._immediate = False
            return 0.0, False
        if self._refresh:
            self._refresh = False
            return self._policy.min_interval, False
        delay = next_poll_delay(self._policy, eta=self._eta, rand=self._rand)
        aimed = (
            self._policy.interval is None
            and self._eta is not None
            and self._eta <= self._policy.max_interval
        )
        return delay, aimed

    async def next(self) -> Progress:
        """Sleep until the next poll, then return the next report.

        Transient failures (connection problems, throttling, 5xx, garbled answers that survived
        the transport's own retries) are logged and waited out until the deadline: a flaky
        network never fails a prediction that is still running. Raises
        :class:`DeadlineExceeded` when the deadline passes.
        """
        while True:
            remaining = self.remaining()
            if remaining <= 0:
                raise DeadlineExceeded
            delay, aimed = self._plan()
            with anyio.move_on_after(remaining) as scope:
                if delay > 0:
                    await anyio.sleep(delay)
                try:
                    report = await self._fetch(aimed)
                except SpeedPixError as exc:
                    if not is_transient(exc):
                        raise
                    log.debug("transient error while polling (%s); will poll again", exc)
                    # Wait a little longer than usual before the next try.
                    self._eta = None
                    continue
            if scope.cancelled_caught:
                raise DeadlineExceeded
            self._eta = report.eta_relative
            if aimed and report.eta_relative is None and not report.status.is_terminal:
                self._refresh = True
            return report
