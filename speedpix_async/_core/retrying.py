"""The retry loop shared by the request pipeline and object-store traffic.

It runs one attempt after another until one succeeds or :func:`~.retry.decide` says stop, within
the policy's attempt limit and time budget. The verdicts come from :mod:`.retry`; this module
only sleeps and counts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .._config import RetryPolicy
from .._errors import APIConnectionError, SpeedPixError
from .deadline import Clock
from .retry import Decision, decide, retry_delay

__all__ = ["OutcomeUnknown", "RepeatAttempt", "with_retries"]

log = logging.getLogger("speedpix_async")

T = TypeVar("T")


class OutcomeUnknown(Exception):
    """Internal: a non-idempotent request may have been processed but its answer was lost.

    Raised instead of retrying (that could do the work twice); the service turns it into its
    own error (for a submit, :class:`~speedpix_async.SubmitOutcomeUnknownError`).
    """

    def __init__(self, cause: SpeedPixError, attempts: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.attempts = attempts


class RepeatAttempt(Exception):
    """Internal: raised by an attempt that fixed what made it fail (a clock correction) and
    should run again at once. The repeat is not counted as a retry."""


async def with_retries(
    attempt: Callable[[int], Awaitable[T]],
    *,
    policy: RetryPolicy,
    idempotent: bool,
    what: str,
    clock: Clock,
) -> T:
    """Run ``attempt(number)`` until it succeeds or the rules say stop.

    Raises the last error, or :class:`OutcomeUnknown` when a non-idempotent call failed in a way
    that does not prove it was not processed. ``what`` ("POST /scc/comfy_prompt") is for logs.
    """
    started = clock.monotonic()
    number = 0
    while True:
        number += 1
        try:
            return await attempt(number)
        except RepeatAttempt:
            number -= 1
            continue
        except SpeedPixError as exc:
            error = exc
        if isinstance(error, APIConnectionError):
            error.attempts = number
        decision = decide(error, idempotent=idempotent)
        if decision is Decision.OUTCOME_UNKNOWN:
            raise OutcomeUnknown(error, number) from error
        if decision is Decision.RAISE:
            raise error
        if number > policy.max_retries:
            log.debug("giving up on %s after %d attempts", what, number)
            raise error
        delay = retry_delay(
            number - 1, policy, getattr(error, "retry_after", None), rand=clock.random
        )
        if clock.monotonic() - started + delay > policy.budget:
            log.debug("giving up on %s: retry budget %.1fs would be exceeded", what, policy.budget)
            raise error
        log.debug(
            "retrying %s in %.3fs (attempt %d failed: %s)",
            what,
            delay,
            number,
            type(error).__name__,
        )
        await clock.sleep(delay)
