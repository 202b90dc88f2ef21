"""Tasks and their lifecycle: ``waiting`` → ``running`` → ``succeeded``/``failed``
(docs/protocol.md, "Task states").

A task's state is a function of the clock: it waits ``queue_seconds``, then runs for its
duration with ``progress`` rising 0→1. Nothing runs in the background, so thousands of tasks
cost nothing while they wait. The workflow handler runs once, the first time anyone looks at the
task after its scheduled end; its outcome is then fixed.
"""

from __future__ import annotations

import bisect
import inspect
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
import attrs

from .workflows import FileStore, TaskContext, WorkflowFailure, WorkflowVersion

__all__ = ["Outcome", "Task", "TaskStore"]

log = logging.getLogger("speedpix_async.emulator")


@attrs.define
class Outcome:
    succeeded: bool
    result: Any = None
    images: list[str] = attrs.Factory(list)
    error_code: str | None = None
    error_message: str | None = None
    failure_style: str = "envelope"


@attrs.define(eq=False)
class Task:
    id: str
    workflow_id: str
    version: str
    inputs: dict[str, Any]
    spec: WorkflowVersion
    created_at: float
    queue_seconds: float
    run_seconds: float
    outcome: Outcome | None = None
    lock: anyio.Lock = attrs.Factory(anyio.Lock)

    @property
    def starts_at(self) -> float:
        return self.created_at + self.queue_seconds

    @property
    def ends_at(self) -> float:
        return self.starts_at + self.run_seconds

    @property
    def estimated_duration(self) -> float:
        return self.queue_seconds + self.run_seconds


class TaskStore:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        time_scale: float = 1.0,
        store: FileStore | None = None,
    ) -> None:
        self._clock = clock
        self.time_scale = time_scale
        self.store = store
        self._tasks: dict[str, Task] = {}
        # Start times in submission order, to count tasks still queued ahead of one.
        self._starts: list[float] = []
        self._lock = threading.Lock()

    def create(
        self, workflow_id: str, version: str, spec: WorkflowVersion, inputs: dict[str, Any]
    ) -> Task:
        now = self._clock()
        task = Task(
            id=str(10**18 + secrets.randbelow(9 * 10**18)),
            workflow_id=workflow_id,
            version=version,
            inputs=inputs,
            spec=spec,
            created_at=now,
            queue_seconds=spec.queue_seconds * self.time_scale,
            run_seconds=spec.run_seconds(inputs) * self.time_scale,
        )
        with self._lock:
            self._tasks[task.id] = task
            bisect.insort(self._starts, task.starts_at)
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
        """Tasks submitted before ``task`` that are still waiting."""
        with self._lock:
            return max(
                0,
                bisect.bisect_left(self._starts, task.starts_at)
                - bisect.bisect_right(self._starts, now),
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
