"""``Workers``: a fan-out's tasks (plain asyncio tasks on asyncio, the task group's elsewhere)
keep the task group's promises — the owner waits for all of them, leaving early cancels them,
and a worker's failure stops the group and is raised as itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import pytest

from speedpix_async._core.concurrency import BaseExceptionGroup, Workers, first_exception

LOOPS = [
    "asyncio",
    pytest.param(
        "trio",
        marks=pytest.mark.skipif(
            not __import__("importlib.util").util.find_spec("trio"), reason="trio is not installed"
        ),
    ),
]


def run(main: Callable[[], Coroutine[Any, Any, Any]], loop: str) -> Any:
    return anyio.run(main, backend=loop)


@pytest.mark.parametrize("loop", LOOPS)
def test_close_waits_for_every_worker_to_finish(loop: str) -> None:
    async def main() -> list[int]:
        finished: list[int] = []

        async def work(n: int) -> None:
            await anyio.sleep(0.01 * n)
            finished.append(n)

        async with anyio.create_task_group() as group:
            workers = Workers(group)
            for n in range(5):
                workers.start(work, n)
            await workers.close(cancel=False)
            assert sorted(finished) == [0, 1, 2, 3, 4]
        return finished

    assert len(run(main, loop)) == 5


@pytest.mark.parametrize("loop", LOOPS)
def test_leaving_early_cancels_the_workers_and_waits_until_they_unwound(loop: str) -> None:
    async def main() -> list[str]:
        unwound: list[str] = []

        async def work() -> None:
            try:
                await anyio.sleep(60)
            finally:
                unwound.append("unwound")

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                workers = Workers(group)
                for _ in range(3):
                    workers.start(work)
                await anyio.sleep(0.05)
                await workers.close(cancel=True)
                assert unwound == ["unwound"] * 3
        return unwound

    assert run(main, loop) == ["unwound"] * 3


@pytest.mark.parametrize("loop", LOOPS)
def test_a_failing_worker_stops_the_group_and_is_raised_as_itself(loop: str) -> None:
    class Broken(Exception):
        pass

    async def main() -> None:
        async def fail() -> None:
            await anyio.sleep(0.01)
            raise Broken("worker 2")

        async def wait() -> None:
            await anyio.sleep(60)

        with anyio.fail_after(5):
            try:
                async with anyio.create_task_group() as group:
                    workers = Workers(group)
                    workers.start(wait)
                    workers.start(fail)
                    try:
                        await anyio.sleep(60)  # the owner's own work, cut short by the failure
                    finally:
                        await workers.close(cancel=True)
            except BaseExceptionGroup as group_error:  # trio: the group's own report
                raise first_exception(group_error) from None

    with pytest.raises(Broken, match="worker 2"):
        run(main, loop)


async def test_on_asyncio_a_worker_is_a_plain_loop_task() -> None:
    started: list[asyncio.Task[Any] | None] = []

    async def work() -> None:
        started.append(asyncio.current_task())

    async with anyio.create_task_group() as group:
        workers = Workers(group)
        workers.start(work)
        await workers.close(cancel=False)
    task = started[0]
    assert task is not None
    # anyio names its tasks after their function's qualified name; a plain task is "Task-N".
    assert task.get_name().startswith("Task-")
