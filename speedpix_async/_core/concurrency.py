"""Bounded concurrency that reports errors the way callers expect, and stays cheap when wide.

anyio task groups raise an ``ExceptionGroup`` even for a single failure; callers of this SDK
expect the typed error itself, so the first failure is re-raised unwrapped (the others were
cancelled because of it).

A fan-out starts one task per prediction and each spends most of its life asleep, so on asyncio
this module skips anyio's per-task machinery where it is not needed: :class:`Workers` starts
plain loop tasks (anyio 4.16 gives each task a handle with its own cancel scope and event: about
three times the CPU to start, and a dozen more objects the garbage collector walks for as long
as the task waits), and :func:`callback_context` lets loop callbacks that read no context
variable share one context instead of copying the caller's each time.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import anyio
import anyio.abc

if sys.version_info >= (3, 11):
    import builtins

    BaseExceptionGroup = builtins.BaseExceptionGroup
else:  # pragma: no cover - exercised on 3.9/3.10
    from exceptiongroup import BaseExceptionGroup

__all__ = [
    "BaseExceptionGroup",
    "Workers",
    "asyncio_loop",
    "callback_context",
    "first_exception",
    "gather_limited",
]

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


def asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running in this thread, or None (another event loop, such as trio)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Contexts(threading.local):
    def __init__(self) -> None:
        self.empty = contextvars.Context()


_contexts = _Contexts()


def callback_context() -> contextvars.Context:
    """An empty context for loop callbacks that read no context variable (the default copies
    the caller's: one more object per callback). One per thread: a context must never be
    entered by two threads at once, and each thread may run its own loop."""
    return _contexts.empty


class Workers:
    """The tasks one feeder starts in ``group`` (one per prediction, in ``run_many``).

    On asyncio they are plain loop tasks (see the module docstring); elsewhere, the group's own
    tasks. Either way:

    * :meth:`close` waits until every worker has ended — cancelling them, and the group's other
      tasks (the feeder), first when the owner leaves early: the consumer stopped, the owner was
      cancelled, a worker failed;
    * a worker's failure cancels ``group`` (so the feeder and the owner stop) and is raised as
      itself: by :meth:`close` for a plain task, by the group (in its exception group) else.
    """

    def __init__(self, group: anyio.abc.TaskGroup) -> None:
        self._group = group
        self._loop = asyncio_loop()
        self._running: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        # The group's tasks still running, and the event that tells close() they all ended.
        self._in_group = 0
        self._all_ended: anyio.Event | None = None
        # Bound once: a method bound per task would be one more object per waiting worker.
        self._on_end = self._ended

    def start(self, work: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        """Start ``work(*args)``."""
        loop = self._loop
        if loop is None:
            self._in_group += 1
            self._group.start_soon(self._counted, work, args)
            return
        task = loop.create_task(work(*args))
        self._running.add(task)
        task.add_done_callback(self._on_end, context=callback_context())

    async def _counted(self, work: Callable[..., Awaitable[None]], args: tuple[Any, ...]) -> None:
        try:
            await work(*args)
        finally:
            self._in_group -= 1
            if self._in_group == 0 and self._all_ended is not None:
                self._all_ended.set()

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if task.cancelled():
            return
        failure = task.exception()
        if failure is not None and self._failure is None:
            self._failure = failure
            self._group.cancel_scope.cancel()

    async def close(self, *, cancel: bool) -> None:
        """Wait until every worker has ended (cancelled first when ``cancel``) — shielded: the
        owner may itself be cancelled, and no worker may outlive it — then raise the first
        plain worker's failure, if one failed."""
        if cancel:
            # The feeder stops too (a slot a cancelled worker frees must not start another),
            # and so do the group's workers.
            self._group.cancel_scope.cancel()
        cancelled: set[asyncio.Task[None]] = set()
        with anyio.CancelScope(shield=True):
            while self._in_group:
                self._all_ended = anyio.Event()
                await self._all_ended.wait()
            while self._running:
                if cancel:
                    # Each once (a worker started in the meantime included): a second cancel
                    # would count twice against a cancel scope inside it.
                    for task in self._running - cancelled:
                        task.cancel()
                        cancelled.add(task)
                await asyncio.wait(tuple(self._running))
        if self._failure is not None:
            raise self._failure
