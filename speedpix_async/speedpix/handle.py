"""The prediction handle: one task, with ``reload()``, ``wait()`` and ``watch()``.

A handle keeps the latest :class:`~speedpix_async.Prediction` snapshot of its task; waiting is
the client's (:class:`~.tasks.Tasks`, over the core's one wait loop). Every wait has a deadline:
the call's ``timeout`` or the client's default. On expiry the task keeps running on the server
and :class:`~speedpix_async.PredictionTimeoutError` says how to resume.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NoReturn

from .._core.waiting import WaitTimeout
from ..models import Prediction, Progress, TaskStatus
from .endpoints import cancel_refused
from .options import ProgressCallback, WaitOptions
from .tasks import Tasks, timed_out

__all__ = ["AsyncPredictionHandle"]


class AsyncPredictionHandle:
    """A submitted task. Returned by ``predictions.create()`` and ``run(..., wait=False)``."""

    def __init__(self, prediction: Prediction, *, tasks: Tasks, fresh: bool) -> None:
        self._prediction = prediction
        self._tasks = tasks
        # A fresh handle knows the submit's estimate; a handle to an older task does not and
        # must ask the server before scheduling polls.
        self._fresh = fresh

    def __repr__(self) -> str:
        return f"<AsyncPredictionHandle id={self.id!r} status={str(self.status)!r}>"

    @property
    def id(self) -> str:
        """The task id."""
        return self._prediction.id

    @property
    def status(self) -> TaskStatus:
        """The status in the latest snapshot (call :meth:`reload` to refresh)."""
        return self._prediction.status

    @property
    def prediction(self) -> Prediction:
        """The latest snapshot."""
        return self._prediction

    @property
    def output(self) -> Any:
        """The output once :meth:`wait` has seen the task succeed, else ``None``."""
        return self._prediction.output

    def _track(self, snapshot: Prediction) -> None:
        self._prediction = snapshot

    def _first_wait(self) -> bool:
        fresh, self._fresh = self._fresh, False
        return fresh

    async def reload(self) -> Prediction:
        """Fetch the task's current progress and return the updated snapshot."""
        report = await self._tasks.endpoints.progress(self.id)
        self._prediction = self._prediction.with_progress(report)
        return self._prediction

    async def cancel(self) -> NoReturn:
        """Not possible: the API has no cancel endpoint; always raises
        :class:`~speedpix_async.UnsupportedOperationError` (nothing is sent)."""
        raise cancel_refused(self.id)

    async def watch(
        self, *, timeout: float | None = None, polling_interval: float | None = None
    ) -> AsyncIterator[Progress]:
        """Yield each progress report until the task ends (the last report is terminal).

        Stops with :class:`~speedpix_async.PredictionTimeoutError` when ``timeout`` passes.
        Breaking out of the loop simply stops polling.
        """
        options = WaitOptions.of(timeout=timeout, polling_interval=polling_interval)
        deadline = self._tasks.deadline(options.timeout)
        view = self._tasks.view(self._prediction, self._track)
        waiter = view.waiter(
            deadline=deadline,
            fresh=self._first_wait(),
            polling_interval=options.polling_interval,
            aim_at_result=False,
        )
        while not self._prediction.status.is_terminal:
            try:
                look = await waiter.next()
            except WaitTimeout as expired:
                raise timed_out(self._prediction, deadline, expired) from expired.last_error
            yield look.report

    async def wait(
        self,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        polling_interval: float | None = None,
    ) -> Prediction:
        """Poll until the task ends and return the final snapshot, with ``output`` set.

        ``on_progress`` (a plain or async function) receives every progress report.
        Raises :class:`~speedpix_async.PredictionFailedError` if the task failed — including
        when ``comfy_get_result`` reports the failure inside a *successful* envelope — and
        :class:`~speedpix_async.PredictionTimeoutError` when ``timeout`` passes first.
        """
        options = WaitOptions.of(
            timeout=timeout, on_progress=on_progress, polling_interval=polling_interval
        )
        return await self._tasks.wait(
            self._prediction,
            options,
            deadline=self._tasks.deadline(options.timeout),
            fresh=self._first_wait(),
            track=self._track,
        )
