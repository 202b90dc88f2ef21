"""The system clock's sleep: a bare future on asyncio (no coroutine frames for the garbage
collector to walk in a wide fan-out), anyio's sleep elsewhere — and cancellable on both."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import time
from typing import Any

import anyio
import pytest

from speedpix_async._core.retry import SYSTEM_CLOCK, system_sleep
from speedpix_async.emulator import Emulator
from tests.conftest import FAST_POLL, FAST_RETRY


async def test_on_asyncio_a_sleep_is_a_future_the_loop_resolves_after_the_delay() -> None:
    assert SYSTEM_CLOCK.sleep is system_sleep
    started = time.monotonic()
    pending = system_sleep(0.05)
    assert isinstance(pending, asyncio.Future)
    assert not pending.done()
    await pending
    assert time.monotonic() - started >= 0.045


async def test_a_cancelled_sleep_ends_at_once_and_its_timer_later_does_nothing() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        started = time.monotonic()
        with anyio.move_on_after(0.02) as scope:
            await system_sleep(0.2)
        assert scope.cancelled_caught
        assert time.monotonic() - started < 0.2
        await asyncio.sleep(0.3)  # past the abandoned timer's time
    finally:
        loop.set_exception_handler(previous)
    assert reported == []


def test_loops_in_two_threads_wake_their_sleepers_without_colliding() -> None:
    # The timers run in an empty context per thread: one context shared by two loops would be
    # entered by both at once ("cannot enter context") and the wake-up lost.
    def one_loop() -> list[dict[str, Any]]:
        async def main() -> list[dict[str, Any]]:
            reported: list[dict[str, Any]] = []
            asyncio.get_running_loop().set_exception_handler(lambda _, c: reported.append(c))
            for _ in range(20):
                await asyncio.wait_for(asyncio.gather(*(system_sleep(0) for _ in range(500))), 5)
            return reported

        return asyncio.run(main())

    # Threads switch as often as the interpreter allows, so a wake-up in one loop is often
    # interrupted by the other's.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = [pool.submit(one_loop) for _ in range(2)]
            assert [future.result() for future in results] == [[], []]
    finally:
        sys.setswitchinterval(interval)


def test_on_trio_the_sleep_is_anyio_s_and_a_prediction_runs_to_its_end() -> None:
    pytest.importorskip("trio")

    async def main() -> tuple[bool, Any]:
        pending = system_sleep(0.001)
        is_future = isinstance(pending, asyncio.Future)
        await pending
        emulator = Emulator(time_scale=0.1)
        async with emulator.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as client:
            output = await client.run("wf-sleep", input={"seconds": 1})
        return is_future, output

    is_future, output = anyio.run(main, backend="trio")
    assert not is_future
    assert output is not None
