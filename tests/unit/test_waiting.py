"""The one wait loop (``Waiter``) on a virtual clock: transient failures are waited out, every
look is reported, an unreachable server is named, and the deadline bounds everything — waits of
minutes, tested in milliseconds."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest

from speedpix_async import APIConnectionError, NotFoundError, PollPolicy
from speedpix_async._core.waiting import (
    UNREACHABLE_AFTER,
    Deadline,
    Look,
    Schedule,
    Waiter,
    WaitTimeout,
)
from tests._clock import VirtualTime

Step = Callable[[bool], Awaitable[Look[str]]]


def unreachable() -> APIConnectionError:
    return APIConnectionError(
        "could not connect", method="POST", url="https://api.test/p", request_sent=False
    )


def waiter(
    time: VirtualTime,
    look: Step,
    *,
    timeout: float = 600.0,
    eta: float | None = 10.0,
    check_in: float = 0.0,
) -> Waiter[str]:
    clock = time.clock()
    policy = PollPolicy(fallback_interval=1.0, max_interval=5.0, check_in=check_in)
    schedule = Schedule(policy, first_eta=eta, clock=clock)
    return Waiter(look, schedule=schedule, deadline=Deadline(timeout, clock=clock), clock=clock)


async def test_a_job_that_ends_on_time_costs_one_look_aimed_at_its_end() -> None:
    time = VirtualTime()
    looks: list[tuple[float, bool]] = []

    async def look(aimed: bool) -> Look[str]:
        looks.append((time.now - 1_000.0, aimed))
        return Look(report="done", done=True, final="result")

    assert await waiter(time, look).until_done() == "result"
    assert len(looks) == 1
    at, aimed = looks[0]
    assert aimed
    assert at == pytest.approx(10.0 + 0.05 + 0.1)  # the estimate, its margin and 1 %


async def test_every_look_is_reported_in_order() -> None:
    time = VirtualTime()
    states = iter([("queued", False), ("running 50%", False), ("done", True)])

    async def look(aimed: bool) -> Look[str]:
        report, done = next(states)
        return Look(
            report=report, done=done, eta=None if done else 1.0, final="r" if done else None
        )

    reports: list[str] = []
    await waiter(time, look, eta=None).until_done(on_report=reports.append)
    assert reports == ["queued", "running 50%", "done"]


async def test_transient_failures_are_waited_out_and_an_unreachable_server_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    time = VirtualTime()
    failures = UNREACHABLE_AFTER + 2
    calls = 0

    async def look(aimed: bool) -> Look[str]:
        nonlocal calls
        calls += 1
        if calls <= failures:
            raise unreachable()
        return Look(report="done", done=True, final="result")

    caplog.set_level(logging.DEBUG, logger="speedpix_async")
    wait = waiter(time, look)
    assert await wait.until_done() == "result"
    assert wait.failures == 0, "a success resets the run of failures"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"has not answered the last {UNREACHABLE_AFTER} attempts" in warnings[0].getMessage()


async def test_an_error_that_is_not_transient_ends_the_wait_at_once() -> None:
    time = VirtualTime()

    async def look(aimed: bool) -> Look[str]:
        raise NotFoundError("no such task", status_code=404)

    with pytest.raises(NotFoundError):
        await waiter(time, look).until_done()
    assert time.now - 1_000.0 < 11, "no retry of a definite answer"


async def test_the_deadline_ends_a_wait_that_runs_on_and_says_what_was_heard() -> None:
    time = VirtualTime()

    async def running(aimed: bool) -> Look[str]:
        return Look(report="running", done=False, eta=30.0)

    with pytest.raises(WaitTimeout) as caught:
        await waiter(time, running, timeout=120.0).until_done()
    assert caught.value.last_error is None, "the server answered every look"
    assert time.now - 1_000.0 <= 120.0 + 1e-9, "nothing runs past the deadline"

    time = VirtualTime()

    async def gone(aimed: bool) -> Look[str]:
        raise unreachable()

    with pytest.raises(WaitTimeout) as caught:
        await waiter(time, gone, timeout=60.0).until_done()
    assert isinstance(caught.value.last_error, APIConnectionError)
    assert caught.value.failures >= UNREACHABLE_AFTER


async def test_a_look_that_ends_without_its_final_state_needs_a_finish() -> None:
    time = VirtualTime()

    async def look(aimed: bool) -> Look[str]:
        return Look(report="ended", done=True)

    async def finish(last: Look[str]) -> str:
        return "fetched"

    assert await waiter(time, look).until_done(finish) == "fetched"
    with pytest.raises(TypeError, match="without its final state"):
        await waiter(time, look).until_done()
