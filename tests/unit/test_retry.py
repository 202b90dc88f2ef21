"""The pure retry rules: Retry-After, backoff series, decisions."""

from __future__ import annotations

import email.utils
import logging

import pytest

from speedpix_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InputError,
    NotFoundError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from speedpix_async._config import RetryPolicy
from speedpix_async._core.retry import (
    Attempts,
    Decision,
    backoff_delay,
    decide,
    parse_retry_after,
    retry_delay,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": " 1.5 "}, 1.5),
        ({"Retry-After": email.utils.formatdate(NOW + 12, usegmt=True)}, 12.0),
        ({"Retry-After": email.utils.formatdate(NOW - 60, usegmt=True)}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-5"}, None),
        ({"Retry-After": "nan"}, None),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "oops", "Retry-After": "2"}, 2.0),
        ({"RETRY-AFTER": "7"}, 7.0),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    result = parse_retry_after(headers, now=NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, abs=1.0 if "GMT" in str(headers) else 1e-9)


def test_backoff_series_doubles_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0, jitter=0.25)
    series = [backoff_delay(n, policy, rand=lambda: 0.5) for n in range(7)]
    assert series == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


@pytest.mark.parametrize("attempt", range(6))
def test_jitter_stays_within_its_band(attempt: int) -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0, jitter=0.25)
    base = min(8.0, 0.5 * 2**attempt)
    low = backoff_delay(attempt, policy, rand=lambda: 0.0)
    high = backoff_delay(attempt, policy, rand=lambda: 1.0)
    assert low == pytest.approx(base * 0.75)
    assert high == pytest.approx(base * 1.25)


def test_retry_after_wins_when_longer_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0, jitter=0.0, max_retry_after=10.0)
    assert retry_delay(0, policy, None) == 0.5
    assert retry_delay(0, policy, 3.0) == 3.0
    assert retry_delay(0, policy, 0.1) == 0.5  # our backoff is longer
    assert retry_delay(0, policy, 600.0) == 10.0  # capped


def _conn(sent: bool) -> APIConnectionError:
    return APIConnectionError("x", method="POST", url="u", request_sent=sent)


def _timeout(sent: bool) -> APITimeoutError:
    return APITimeoutError("x", method="POST", url="u", request_sent=sent)


@pytest.mark.parametrize(
    ("error", "idempotent", "decision"),
    [
        (_conn(False), False, Decision.RETRY),  # never reached the server: even a submit
        (_timeout(False), False, Decision.RETRY),  # connect / pool timeout
        (_conn(True), True, Decision.RETRY),
        (_conn(True), False, Decision.OUTCOME_UNKNOWN),  # reset after sending a submit
        (_timeout(True), False, Decision.OUTCOME_UNKNOWN),  # read timeout on a submit
        (RateLimitError("x", status_code=403), False, Decision.RETRY),
        (ServerError("x", status_code=503), False, Decision.RETRY),
        (ServerError("x", status_code=502), True, Decision.RETRY),
        (ServerError("x", status_code=502), False, Decision.OUTCOME_UNKNOWN),
        (ServerError("x", status_code=504), False, Decision.OUTCOME_UNKNOWN),
        (ServerError("x", status_code=500), True, Decision.RAISE),
        (
            ServerError("x", status_code=200, status=20, err_code="SystemBusy"),
            False,
            Decision.RETRY,
        ),
        (ServerError("x", status_code=200, status=20, err_code="Mystery"), True, Decision.RAISE),
        (ResponseValidationError("x", incomplete=True), True, Decision.RETRY),
        (ResponseValidationError("x", incomplete=True), False, Decision.OUTCOME_UNKNOWN),
        (ResponseValidationError("x", incomplete=False), True, Decision.RAISE),
        (AuthenticationError("x", status_code=400), True, Decision.RAISE),
        (BadRequestError("x", status_code=200, status=20), False, Decision.RAISE),
        (NotFoundError("x", status_code=200, status=20), True, Decision.RAISE),
        (APIError("x", status_code=200, status=20), True, Decision.RAISE),
        (InputError("x"), True, Decision.RAISE),
    ],
)
def test_decisions(
    error: Exception, idempotent: bool, decision: Decision, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="speedpix_async")
    assert decide(error, idempotent=idempotent) is decision  # type: ignore[arg-type]
    assert caplog.records, "every decision is logged at debug level"
    assert all(record.levelno == logging.DEBUG for record in caplog.records)


async def test_test_mode_retries_at_once_with_the_same_decisions() -> None:
    from speedpix_async.testing import testing_mode
    from tests._clock import VirtualTime

    time = VirtualTime()
    policy = RetryPolicy(max_retries=3, initial_delay=2.0, jitter=0.0)
    refused = RateLimitError("busy", status_code=429, retry_after=30.0)

    async def attempts_until_given_up() -> int:
        attempts = Attempts(policy, idempotent=True, what="GET /x", clock=time.clock())
        try:
            while True:
                await attempts.failed(refused)
        except RateLimitError:
            return attempts.number

    assert await attempts_until_given_up() == 4
    assert time.sleeps == [30.0, 30.0, 30.0], "Retry-After honoured between attempts"
    time.sleeps.clear()
    with testing_mode():
        assert await attempts_until_given_up() == 4, "the same attempts"
    assert time.sleeps == [0.0, 0.0, 0.0], "made at once"
    time.sleeps.clear()
    assert await attempts_until_given_up() == 4
    assert time.sleeps == [30.0, 30.0, 30.0], "off again after the block"


async def test_no_backoff_sleeps_past_the_calls_deadline() -> None:
    from tests._clock import VirtualTime

    time = VirtualTime()
    policy = RetryPolicy(max_retries=5, initial_delay=2.0, jitter=0.0)
    refused = RateLimitError("busy", status_code=429, retry_after=30.0)
    left = [12.0]
    attempts = Attempts(
        policy, idempotent=True, what="GET /x", clock=time.clock(), remaining=lambda: left[0]
    )
    await attempts.failed(refused)
    assert time.sleeps == [12.0], "cut to what is left of the deadline, not Retry-After's 30 s"
    left[0] = -1.0
    await attempts.failed(refused)
    assert time.sleeps == [12.0, 0.0], "a passed deadline: no sleep (the caller then stops)"
