"""Tasks and their lifecycle: ``waiting`` → ``running`` → ``succeeded``/``failed``
(docs/protocol.md, "Task states").

A task's state is a function of the clock: it waits ``queue_seconds`` (and, in a resource pool
with a capacity, until one of the pool's slots is free), then runs for its duration with
``progress`` rising 0→1. Its schedule is fixed when it is submitted — tasks of a pool start in
submission order as slots free up — so nothing runs in the background, and thousands of tasks
cost nothing while they wait. The workflow handler runs once, the first time anyone looks at the
task after its scheduled end; its outcome is then fixed.

Estimates can be made wrong on purpose (:class:`EstimateError`): a task then reports its
duration and time left multiplied by a factor of its own, as a real service's estimates are
early or late, while it runs exactly as long as it would.
"""

from __future__ import annotations

import bisect
import heapq
import inspect
import logging
import random
import secrets
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread
import attrs

from .workflows import FileStore, TaskContext, WorkflowFailure, WorkflowVersion

__all__ = ["EstimateError", "Outcome", "Task", "TaskStore"]

log = logging.getLogger("speedpix_async.emulator")


@attrs.define
class Outcome:
    succeeded: bool
    result: Any = None
    images: list[str] = attrs.Factory(list)
    error_code: str | None = None
    error_message: str | None = None
    failure_style: str = "envelope"


@attrs.frozen
class EstimateError:
    """How wrong the estimates a task reports are: each task draws a factor
    ``1 + bias + noise × N(0, 1)`` (at least 0.1) from a generator seeded with ``seed``, and
    multiplies its ``estimatedDurationInSeconds`` and ``etaRelative`` by it. ``bias=0.3``: 30 %
    late; ``bias=-0.3``: 30 % early."""

    bias: float = 0.0
    noise: float = 0.0
    seed: int | None = None

    @property
    def exact(self) -> bool:
        return self.bias == 0 and self.noise == 0


@attrs.define(eq=False)
class Task:
    id: str
    workflow_id: str
    version: str
    inputs: dict[str, Any]
    spec: WorkflowVersion
    created_at: float
    starts_at: float
    """When it leaves the queue: after ``queue_seconds``, and after a slot of its pool frees."""
    run_seconds: float
    owner: str = ""
    """The app key that submitted it; to any other it does not exist."""
    pool: str = "default"
    estimate_factor: float = 1.0
    """What its reported estimates are multiplied by (see :class:`EstimateError`)."""
    outcome: Outcome | None = None
    lock: anyio.Lock = attrs.Factory(anyio.Lock)

    @property
    def ends_at(self) -> float:
        return self.starts_at + self.run_seconds

    @property
    def estimated_duration(self) -> float:
        """What the submit answer says it will take (queue included), as reported."""
        return (self.ends_at - self.created_at) * self.estimate_factor

    def eta(self, now: float) -> float:
        """``etaRelative``: the time left, as reported."""
        return max(0.0, self.ends_at - now) * self.estimate_factor


class TaskStore:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        time_scale: float = 1.0,
        store: FileStore | None = None,
        capacity: int | Mapping[str, int] | None = None,
        estimates: EstimateError | None = None,
    ) -> None:
        self._clock = clock
        self.time_scale = time_scale
        self.store = store
        self.capacity = capacity
        """Tasks a resource pool runs at once: one number for every pool, a number per pool
        (pools not named are unlimited), or None (unlimited, the default)."""
        self.estimates = estimates or EstimateError()
        self._random = random.Random(self.estimates.seed)
        self._tasks: dict[str, Task] = {}
        # Per pool: start times in submission order (to count tasks still queued ahead of one)
        # and, with a capacity, when each of its slots is free next.
        self._starts: dict[str, list[float]] = {}
        self._slots: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _capacity_of(self, pool: str) -> int | None:
        capacity = self.capacity
        if capacity is None or isinstance(capacity, int):
            return capacity
        return capacity.get(pool)

    def _factor(self) -> float:
        estimates = self.estimates
        if estimates.exact:
            return 1.0
        return max(0.1, 1.0 + estimates.bias + estimates.noise * self._random.gauss(0.0, 1.0))

    def create(
        self,
        workflow_id: str,
        version: str,
        spec: WorkflowVersion,
        inputs: dict[str, Any],
        *,
        owner: str = "",
        pool: str = "default",
    ) -> Task:
        now = self._clock()
        run_seconds = spec.run_seconds(inputs) * self.time_scale
        ready = now + spec.queue_seconds * self.time_scale
        with self._lock:
            start = ready
            capacity = self._capacity_of(pool)
            if capacity is not None:
                slots = self._slots.setdefault(pool, [0.0] * max(1, capacity))
                start = max(ready, heapq.heappop(slots))
                heapq.heappush(slots, start + run_seconds)
            task = Task(
                id=str(10**18 + secrets.randbelow(9 * 10**18)),
                workflow_id=workflow_id,
                version=version,
                inputs=inputs,
                spec=spec,
                created_at=now,
                starts_at=start,
                run_seconds=run_seconds,
                owner=owner,
                pool=pool,
                estimate_factor=self._factor(),
            )
            self._tasks[task.id] = task
            bisect.insort(self._starts.setdefault(pool, []), task.starts_at)
        return task

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)

    def ids(self) -> list[str]:
        """The id of every task created, oldest first (for tests)."""
        with self._lock:
            return list(self._tasks)

    def queued_ahead(self, task: Task, now: float) -> int:
        """Tasks of its pool that start before ``task`` and are still waiting."""
        with self._lock:
            starts = self._starts.get(task.pool, [])
            return max(
                0, bisect.bisect_left(starts, task.starts_at) - bisect.bisect_right(starts, now)
            )

    def now(self) -> float:
        return self._clock()

    async def finish(self, task: Task, base_url: str) -> Outcome:
        """Run the handler once (if the task's time is up) and return its outcome."""
        if task.outcome is not None:
            return task.outcome
        async with task.lock:
            # Another request may have finished the task while we waited for the lock.
            settled = _settled(task)
            if settled is not None:
                return settled
            ctx = TaskContext(
                task_id=task.id,
                workflow_id=task.workflow_id,
                version=task.version,
                base_url=base_url,
                store=self.store,
            )
            try:
                result = await _call(task.spec.handler, dict(task.inputs), ctx)
                task.outcome = Outcome(succeeded=True, result=result, images=ctx.images)
            except WorkflowFailure as failure:
                task.outcome = Outcome(
                    succeeded=False,
                    error_code=failure.code,
                    error_message=failure.message,
                    failure_style=failure.style,
                )
            except Exception as exc:
                log.exception("workflow %s crashed", task.workflow_id)
                task.outcome = Outcome(
                    succeeded=False,
                    error_code="WorkflowInternalError",
                    error_message=f"{type(exc).__name__}: {exc}",
                )
            return task.outcome


def _settled(task: Task) -> Outcome | None:
    return task.outcome


async def _call(handler: Callable[..., Any], inputs: dict[str, Any], ctx: TaskContext) -> Any:
    if inspect.iscoroutinefunction(handler):
        return await handler(inputs, ctx)
    # Image workflows spend real CPU in Pillow: keep it off the event loop.
    result = await anyio.to_thread.run_sync(handler, inputs, ctx)
    if isinstance(result, Awaitable):
        return await result
    return result
