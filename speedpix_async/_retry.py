"""Retry decisions as pure functions (DESIGN §4.2).

The transport asks three questions after a failed attempt, each answered here without I/O:

* :func:`decide` — retry, give up, or report that a non-idempotent call's outcome is unknown;
* :func:`parse_retry_after` — how long the server asked us to wait;
* :func:`retry_delay` — how long to wait before the next attempt (exponential backoff with
  jitter, capped, overridden by a capped ``Retry-After``).

Each branch logs at debug level on the ``speedpix_async`` logger, so a user can see *why* a call
was retried or not.
"""

from __future__ import annotations

import email.utils
import enum
import logging
import random
import time
from collections.abc import Callable, Mapping

from ._config import RetryPolicy
from ._errors import (
    APIConnectionError,
    APIError,
    RateLimitError,
    ResponseValidationError,
    SpeedPixError,
)

__all__ = ["Decision", "backoff_delay", "decide", "parse_retry_after", "retry_delay"]

log = logging.getLogger("speedpix_async")

#: Statuses a gateway uses to refuse work *before* it reaches the backend.
_REJECTED_BEFORE_BACKEND = frozenset({429, 503})
#: Statuses that say the backend may have been reached but the answer was lost or late.
_MAYBE_PROCESSED = frozenset({502, 504})


class Decision(enum.Enum):
    RETRY = "retry"
    RAISE = "raise"
    OUTCOME_UNKNOWN = "outcome_unknown"
    """A non-idempotent request may have been processed; retrying could duplicate it."""


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
        if not error.transient:
            log.debug("not retrying: response is not the API's (%s)", error.message)
            return Decision.RAISE
        if idempotent:
            log.debug("retryable: idempotent call got a truncated or garbled response")
            return Decision.RETRY
        log.debug("not retrying: non-idempotent call got an unreadable response; outcome unknown")
        return Decision.OUTCOME_UNKNOWN
    if isinstance(error, APIError):
        if error.status_code in _REJECTED_BEFORE_BACKEND:
            log.debug("retryable: HTTP %s rejection before the backend", error.status_code)
            return Decision.RETRY
        if error.status_code in _MAYBE_PROCESSED:
            if idempotent:
                log.debug("retryable: idempotent call got HTTP %s", error.status_code)
                return Decision.RETRY
            log.debug("not retrying: HTTP %s on a non-idempotent call", error.status_code)
            return Decision.OUTCOME_UNKNOWN
        if error.transient and error.status is not None:
            # A well-formed envelope saying "busy, try later" is an explicit failure answer:
            # nothing was created, so even a submit may be repeated.
            log.debug("retryable: envelope says the backend is busy (%s)", error.code)
            return Decision.RETRY
        log.debug("not retrying: %s is not transient", type(error).__name__)
        return Decision.RAISE
    log.debug("not retrying: %s", type(error).__name__)
    return Decision.RAISE


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
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            log.debug("ignoring unparseable Retry-After %r", raw)
            return None
        current = time.time() if now is None else now
        return max(0.0, email.utils.mktime_tz(parsed) - current)
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
