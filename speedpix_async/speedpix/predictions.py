"""``client.predictions``: submit a workflow task, read its progress and result, wait on it;
and the handle of one submitted task (``reload()``, ``wait()``, ``watch()``).

A handle keeps the latest :class:`~speedpix_async.Prediction` snapshot of its task; waiting is
the client's (:class:`~.tasks.Tasks`, over the core's one wait loop). Every wait has a deadline:
the call's ``timeout`` or the client's default. On expiry the task keeps running on the server
and :class:`~speedpix_async.PredictionTimeoutError` says how to resume.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, NoReturn

from .._core.handles import WaitOptions, watch
from .._validate import check_task_id
from .endpoints import cancel_refused, list_refused
from .models import Prediction, Progress, TaskStatus
from .options import ProgressCallback, SubmitKeywords, submit_options
from .tasks import Tasks, submitted_report, timed_out

if TYPE_CHECKING:
    from typing_extensions import Unpack  # annotations only: 10 ms at start-up

__all__ = ["AsyncPredictionHandle", "AsyncPredictions"]


class AsyncPredictionHandle:
    """A submitted task. Returned by ``predictions.create()`` and ``run(..., wait=False)``."""

    def __init__(self, prediction: Prediction, *, tasks: Tasks, fresh: bool) -> None:
        self._prediction = prediction
        self._tasks = tasks
        # A fresh handle knows the submit's estimate; a handle to an older task does not and
        # must ask the server before scheduling polls.
        self._fresh = fresh
        self._heard_at = tasks.waits.now() if fresh else None

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
        options = WaitOptions[Progress].of(timeout=timeout, polling_interval=polling_interval)
        deadline = self._tasks.deadline(options.timeout)
        view = self._tasks.view(self._prediction, self._track)
        fresh = self._first_wait()
        waiter = view.waiter(
            deadline=deadline,
            fresh=fresh,
            polling_interval=options.polling_interval,
            aim_at_result=False,
            watched=True,
            heard_at=self._heard_at if fresh else None,
        )
        if fresh:
            yield submitted_report(self._prediction)
        reports = watch(
            waiter,
            running=lambda: not self._prediction.status.is_terminal,
            expired=lambda expired: timed_out(self._prediction, deadline, expired),
        )
        async with contextlib.aclosing(reports):
            async for report in reports:
                yield report

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
        options = WaitOptions[Progress].of(
            timeout=timeout, on_progress=on_progress, polling_interval=polling_interval
        )
        fresh = self._first_wait()
        return await self._tasks.wait(
            self._prediction,
            options,
            deadline=self._tasks.deadline(options.timeout),
            fresh=fresh,
            track=self._track,
            heard_at=self._heard_at if fresh else None,
        )


class AsyncPredictions:
    """Workflow tasks. Reach it as ``client.predictions``."""

    def __init__(self, tasks: Tasks) -> None:
        self._tasks = tasks

    async def create(
        self,
        workflow_id: str,
        input: dict[str, Any] | None = None,
        **options: Unpack[SubmitKeywords],
    ) -> AsyncPredictionHandle:
        """Submit a task and return a handle to it without waiting.

        ``alias_id`` defaults to ``"main"`` only when neither ``alias_id`` nor ``version_id`` is
        given; passing both is refused because the service's precedence is undocumented.
        ``resource_config_id`` selects dedicated resources (``X-SP-RESOURCE-CONFIG-ID``, e.g.
        ``"pool-a,pool-b,default"``); omitted, the shared pool is used.

        Local files in ``input`` (``Path``, bytes, binary file objects, and strings written as
        local media paths) are uploaded first, concurrently, each distinct file once — or
        inlined as ``data:`` URIs with ``file_encoding_strategy="base64"`` (1 MiB at most). A
        missing or unreadable file raises :class:`~speedpix_async.InputError` before anything
        is sent, and a failed upload means the task is never submitted.

        Never submits twice: when the answer is lost after sending, raises
        :class:`~speedpix_async.SubmitOutcomeUnknownError` instead of retrying.
        """
        submit = submit_options(options, call="predictions.create()")
        tasks = self._tasks
        snapshot = await tasks.submit(workflow_id, input, submit, tasks.deadline(None))
        return AsyncPredictionHandle(snapshot, tasks=tasks, fresh=True)

    async def progress(self, task_id: str) -> Progress:
        """One ``comfy_get_progress`` report."""
        return await self._tasks.endpoints.progress(check_task_id(task_id))

    async def get(self, task_id: str) -> Prediction:
        """The task's current state (one progress request). ``output`` stays ``None`` until the
        result is fetched with :meth:`result` or :meth:`wait`."""
        report = await self.progress(task_id)
        return Prediction(id=task_id, status=report.status).with_progress(report)

    async def result(self, task_id: str) -> Prediction:
        """One ``comfy_get_result`` request: the task's outputs once it has succeeded.

        A task that failed may be reported either as an error envelope (raised as an
        :class:`~speedpix_async.APIError`) or as ``data.status == "failed"`` (returned); use
        :meth:`wait` to have both turned into :class:`~speedpix_async.PredictionFailedError`.
        """
        return await self._tasks.result(check_task_id(task_id))

    async def wait(
        self,
        task_id: str,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        polling_interval: float | None = None,
    ) -> Prediction:
        """Wait for an existing task (for example after ``wait=False`` or a
        :class:`~speedpix_async.PredictionTimeoutError`) and return its final snapshot."""
        snapshot = Prediction(id=check_task_id(task_id), status=TaskStatus.WAITING)
        options = WaitOptions[Progress].of(
            timeout=timeout, on_progress=on_progress, polling_interval=polling_interval
        )
        tasks = self._tasks
        return await tasks.wait(
            snapshot, options, deadline=tasks.deadline(options.timeout), fresh=False
        )

    def handle(self, task_id: str) -> AsyncPredictionHandle:
        """A handle to an existing task, for ``reload()``, ``wait()`` and ``watch()``."""
        snapshot = Prediction(id=check_task_id(task_id), status=TaskStatus.WAITING)
        return AsyncPredictionHandle(snapshot, tasks=self._tasks, fresh=False)

    async def cancel(self, task_id: str) -> NoReturn:
        """Not possible: the SpeedPix API has no cancel endpoint.

        Always raises :class:`~speedpix_async.UnsupportedOperationError`; nothing is sent and no
        local state pretends the task stopped (the official Python SDK fakes a ``failed`` state).
        """
        raise cancel_refused(task_id)

    async def list(self) -> NoReturn:
        """Not possible: the SpeedPix API has no endpoint that lists tasks.

        Always raises :class:`~speedpix_async.UnsupportedOperationError`; keep the task ids
        returned by ``create`` if you need them later.
        """
        raise list_refused()
