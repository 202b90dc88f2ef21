"""Bounded concurrency that reports errors the way callers expect.

anyio task groups raise an ``ExceptionGroup`` even for a single failure; callers of this SDK
expect the typed error itself, so the first failure is re-raised unwrapped (the others were
cancelled because of it).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

if sys.version_info >= (3, 11):
    import builtins

    BaseExceptionGroup = builtins.BaseExceptionGroup
else:  # pragma: no cover - exercised on 3.9/3.10
    from exceptiongroup import BaseExceptionGroup

__all__ = ["BaseExceptionGroup", "first_exception", "gather_limited"]

T = TypeVar("T")
R = TypeVar("R")


def first_exception(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf exception of a (possibly nested) group, preferring non-cancellations."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    cancelled = anyio.get_cancelled_exc_class()
    for leaf in leaves:
        if not isinstance(leaf, cancelled):
            return leaf
    return leaves[0]


async def gather_limited(
    fn: Callable[[T], Awaitable[R]], items: Sequence[T], limit: int
) -> list[R]:
    """``[await fn(item) for item in items]`` with at most ``limit`` running at once.

    Results keep the order of ``items``. The first failure cancels the rest and is raised as
    itself (not wrapped in a group).
    """
    results: list[R | None] = [None] * len(items)
    limiter = anyio.CapacityLimiter(max(1, limit))

    async def run(index: int, item: T) -> None:
        async with limiter:
            results[index] = await fn(item)

    try:
        async with anyio.create_task_group() as group:
            for index, item in enumerate(items):
                group.start_soon(run, index, item)
    except BaseExceptionGroup as exc:
        raise first_exception(exc) from None
    return results  # type: ignore[return-value]
