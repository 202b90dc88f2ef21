"""Retrying: the one place that decides what is worth another attempt, and how long to wait.

After a failed attempt the pipeline hands the error to :meth:`Attempts.failed`, which applies
these pure rules (and sleeps the backoff, or raises):

* :func:`decide` — retry, give up, or report that a non-idempotent call's outcome is unknown.
  Errors carry *facts* (HTTP status, envelope codes, whether the request may have been sent,
  whether a body arrived incomplete); the verdicts live only here. The wait loop asks the same
  function (as an idempotent call) whether a failed poll is worth waiting out.
* :func:`parse_retry_after` — how long the server asked us to wait;
* :func:`retry_delay` — how long to wait before the next attempt (exponential backoff with
  jitter, capped, overridden by a capped ``Retry-After``).

Each branch logs at debug level on the ``speedpix_async`` logger, so a user can see *why* a call
was retried or not.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import enum
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping

import anyio
import attrs

from .._config import RetryPolicy
from .._errors import (
    APIConnectionError,
    APIError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    SpeedPixError,
)
from .concurrency import asyncio_loop, callback_context

__all__ = [
    "SYSTEM_CLOCK",
    "TESTING",
    "WITNESS",
    "Attempts",
    "Clock",
    "Decision",
    "OutcomeUnknown",
    "Witness",
    "backoff_delay",
    "decide",
    "is_worth_waiting_out",
    "parse_http_date",
    "parse_retry_after",
    "retry_delay",
]

log = logging.getLogger("speedpix_async")


#: Statuses a gateway uses to refuse work *before* it reaches the backend.
REJECTED_BEFORE_BACKEND = frozenset({429, 503})
#: Statuses that say the backend may have been reached but the answer was lost or late.
MAYBE_PROCESSED = frozenset({502, 504})
#: Word stems of error codes in which a service says "busy, try again later" — an explicit
#: refusal, so nothing was created and even a submit may be repeated. The vocabularies are
#: unpublished; these follow Alibaba Cloud's usual naming (``SystemBusy``, ``InternalError``).
BUSY_CODE_STEMS = ("internalerror", "systembusy", "serviceunavailable", "serverbusy", "timeout")


class Decision(enum.Enum):
    RETRY = "retry"
    RAISE = "raise"
    OUTCOME_UNKNOWN = "outcome_unknown"
    """A non-idempotent request may have been processed; retrying could duplicate it."""


def _says_busy(error: APIError) -> bool:
    """An answer in the service's own envelope whose code says it is busy."""
    code = error.err_code or error.sub_err_code
    if error.status is None or not code:
        return False
    squashed = re.sub(r"[^a-z]", "", code.lower())
    return any(stem in squashed for stem in BUSY_CODE_STEMS)


def decide(error: SpeedPixError, *, idempotent: bool) -> Decision:
    """What to do after ``error``. Never returns RETRY for a non-idempotent call unless the
    error proves the request was not processed."""
    if isinstance(error, APIConnectionError):
        if not error.request_sent:
            log.debug("retryable: request never reached the server (%s)", type(error).__name__)
            return Decision.RETRY
        if idempotent:
            log.debug("retryable: idempotent call, connection failed after sending")
            return Decision.RETRY
        log.debug("not retrying: non-idempotent call failed after sending; outcome unknown")
        return Decision.OUTCOME_UNKNOWN
    if isinstance(error, RateLimitError):
        log.debug("retryable: throttled before reaching the backend")
        return Decision.RETRY
    if isinstance(error, ResponseValidationError):
        if error.over_limit:
            if idempotent:
                log.debug("not retrying: the answer is over the client's limits")
                return Decision.RAISE
            log.debug("not retrying: non-idempotent call got an answer over the limits")
            return Decision.OUTCOME_UNKNOWN
        if not error.incomplete:
            log.debug("not retrying: response is not the API's (%s)", error.message)
            return Decision.RAISE
        if idempotent:
            log.debug("retryable: idempotent call got a truncated or garbled response")
            return Decision.RETRY
        log.debug("not retrying: non-idempotent call got an unreadable response; outcome unknown")
        return Decision.OUTCOME_UNKNOWN
    if isinstance(error, APIError):
        if error.status_code in REJECTED_BEFORE_BACKEND:
            log.debug("retryable: HTTP %s rejection before the backend", error.status_code)
            return Decision.RETRY
        if error.status_code in MAYBE_PROCESSED:
            if idempotent:
                log.debug("retryable: idempotent call got HTTP %s", error.status_code)
                return Decision.RETRY
            log.debug("not retrying: HTTP %s on a non-idempotent call", error.status_code)
            return Decision.OUTCOME_UNKNOWN
        if isinstance(error, ServerError) and _says_busy(error):
            log.debug("retryable: the service says it is busy (%s)", error.code)
            return Decision.RETRY
        log.debug("not retrying: %s is not transient", type(error).__name__)
        return Decision.RAISE
    log.debug("not retrying: %s", type(error).__name__)
    return Decision.RAISE


def is_worth_waiting_out(error: SpeedPixError) -> bool:
    """Whether a failed *poll* (an idempotent look at a running job) should be waited out
    rather than fail the wait."""
    return decide(error, idempotent=True) is Decision.RETRY


def parse_http_date(value: str | None) -> float | None:
    """Epoch seconds of an HTTP date (``Tue, 14 Nov 2023 22:13:20 GMT``), or None."""
    if not value:
        return None
    parsed = email.utils.parsedate_tz(value.strip())
    if parsed is None:
        return None
    return float(email.utils.mktime_tz(parsed))


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait according to ``Retry-After`` (delta-seconds or an HTTP date), or None.

    Also understands the non-standard ``retry-after-ms`` some gateways send. Negative or
    unparseable values yield None; a date in the past yields 0.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        when = parse_http_date(raw)
        if when is None:
            log.debug("ignoring unparseable Retry-After %r", raw)
            return None
        current = time.time() if now is None else now
        return max(0.0, when - current)
    if seconds != seconds or seconds < 0:  # NaN or negative
        log.debug("ignoring invalid Retry-After %r", raw)
        return None
    return seconds


def backoff_delay(
    attempt: int, policy: RetryPolicy, *, rand: Callable[[], float] = random.random
) -> float:
    """Delay before retry number ``attempt`` (0-based): ``initial * 2**attempt`` capped at
    ``max_delay``, then scaled by a random factor in ``[1 - jitter, 1 + jitter]``."""
    base = min(policy.max_delay, policy.initial_delay * (2.0**attempt))
    factor = 1.0 + policy.jitter * (2.0 * rand() - 1.0)
    return max(0.0, base * factor)


def retry_delay(
    attempt: int,
    policy: RetryPolicy,
    retry_after: float | None = None,
    *,
    rand: Callable[[], float] = random.random,
) -> float:
    """The wait before the next attempt: the server's ``Retry-After`` (capped) when it gave one
    that is longer than our backoff, else the backoff."""
    delay = backoff_delay(attempt, policy, rand=rand)
    if retry_after is not None:
        honoured = min(retry_after, policy.max_retry_after)
        if honoured > delay:
            log.debug("honouring Retry-After %.3fs (server asked %.3fs)", honoured, retry_after)
            return honoured
    return delay


# ------------------------------------------------------------------------ between attempts


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # cancelled meanwhile
        future.set_result(None)


def system_sleep(delay: float) -> Awaitable[None]:
    """Sleep ``delay`` seconds. On asyncio, a bare future that a loop timer resolves: a wait in
    a wide fan-out spends most of its life asleep, and anyio's sleep is three coroutines deep
    with a context copied per timer (objects the garbage collector walks on every full pass:
    docs/performance.md). Elsewhere (trio), anyio's sleep.

    Cancelling the awaiting task cancels the future; its timer stays queued until its time and
    then finds the future done (a cancelled sleep holds one idle timer until then)."""
    loop = asyncio_loop()
    if loop is None:
        return anyio.sleep(delay)
    future = loop.create_future()
    loop.call_later(delay, _wake, future, context=callback_context())
    return future


@attrs.frozen
class Clock:
    """Where the core gets time, sleep and randomness from."""

    wall: Callable[[], float] = time.time
    """Epoch seconds (signing, ``Retry-After`` dates)."""
    monotonic: Callable[[], float] = time.monotonic
    """Deadlines and elapsed times."""
    sleep: Callable[[float], Awaitable[None]] = system_sleep
    random: Callable[[], float] = random.random
    """Jitter."""


SYSTEM_CLOCK = Clock()


class _Testing:
    """The test mode (``speedpix_async.testing.set_testing``): retries are still decided and
    logged as ever, but made at once — no backoff, no ``Retry-After`` wait."""

    enabled = False


TESTING = _Testing()


class Witness:
    """Sees the attempts made inside one step of a wait — one poll may retry several times
    before giving up, and a deadline may cut it short mid-retry or mid-request — so the wait
    loop knows, as it happens, how long the server has not been reached and why."""

    __slots__ = ("failures", "on_failure", "pending", "remaining")

    def __init__(
        self,
        on_failure: Callable[[SpeedPixError], None] | None = None,
        remaining: Callable[[], float] | None = None,
    ) -> None:
        self.failures = 0
        self.on_failure = on_failure
        self.remaining = remaining
        """Seconds left of the step's deadline (None: no deadline). The calls made in the
        step end by it (a call without a deadline of its own takes this one)."""
        self.pending: tuple[str, str, float] | None = None
        """The request on the wire: (method, URL without query, when it was sent)."""

    def failed(self, error: SpeedPixError) -> None:
        self.failures += 1
        if self.on_failure is not None:
            self.on_failure(error)


#: The witness of the step running in this task, if a wait is watching it.
WITNESS: contextvars.ContextVar[Witness | None] = contextvars.ContextVar(
    "speedpix_async.witness", default=None
)


class OutcomeUnknown(Exception):
    """Internal: a non-idempotent request may have been processed but its answer was lost.

    Raised instead of retrying (that could do the work twice); the service turns it into its
    own error (for a submit, :class:`~speedpix_async.SubmitOutcomeUnknownError`).
    """

    def __init__(self, cause: SpeedPixError, attempts: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.attempts = attempts


class Attempts:
    """The attempts of one logical call, and what happens after each failure.

    The caller keeps the loop (so a successful attempt never enters this module)::

        attempts = Attempts(policy, idempotent=True, what="POST /x", clock=clock)
        while True:
            try:
                return await one_attempt()
            except SpeedPixError as error:
                await attempts.failed(error)   # waits, or raises

    The time budget counts from ``started`` (default: construction). With ``remaining``
    (seconds left of the call's deadline), no backoff sleeps past it; the caller checks the
    deadline before the next attempt.
    """

    __slots__ = ("_clock", "_idempotent", "_policy", "_remaining", "_started", "_what", "number")

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        idempotent: bool,
        what: str,
        clock: Clock,
        started: float | None = None,
        remaining: Callable[[], float] | None = None,
    ) -> None:
        self._policy = policy
        self._remaining = remaining
        self._idempotent = idempotent
        self._what = what
        self._clock = clock
        self._started = clock.monotonic() if started is None else started
        self.number = 0
        """Attempts that failed so far."""

    async def failed(self, error: SpeedPixError) -> None:
        """Return when another attempt should be made (after the backoff); otherwise raise the
        error — or :class:`OutcomeUnknown` when a non-idempotent call failed in a way that does
        not prove it was not processed."""
        self.number += 1
        number, policy, what = self.number, self._policy, self._what
        witness = WITNESS.get()
        if witness is not None:
            witness.failed(error)
        if isinstance(error, APIConnectionError):
            error.attempts = number
        decision = decide(error, idempotent=self._idempotent)
        if decision is Decision.OUTCOME_UNKNOWN:
            raise OutcomeUnknown(error, number) from error
        if decision is Decision.RAISE:
            raise error
        if number > policy.max_retries:
            log.debug("giving up on %s after %d attempts", what, number)
            raise error
        delay = retry_delay(
            number - 1, policy, getattr(error, "retry_after", None), rand=self._clock.random
        )
        if TESTING.enabled:
            delay = 0.0
        if self._clock.monotonic() - self._started + delay > policy.budget:
            log.debug("giving up on %s: retry budget %.1fs would be exceeded", what, policy.budget)
            raise error
        log.debug(
            "retrying %s in %.3fs (attempt %d failed: %s)",
            what,
            delay,
            number,
            type(error).__name__,
        )
        if self._remaining is not None:
            delay = max(0.0, min(delay, self._remaining()))
        await self._clock.sleep(delay)
