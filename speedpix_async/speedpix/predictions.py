"""``client.predictions``: submit a workflow task, read its progress and result, wait on it."""

from __future__ import annotations

from typing import Any, NoReturn

from .._validate import check_task_id
from ..models import Prediction, Progress, TaskStatus
from .endpoints import cancel_refused, list_refused
from .handle import AsyncPredictionHandle
from .options import FileEncodingStrategy, ProgressCallback, SubmitOptions, WaitOptions
from .tasks import Tasks

__all__ = ["AsyncPredictions"]


class AsyncPredictions:
    """Workflow tasks. Reach it as ``client.predictions``."""

    def __init__(self, tasks: Tasks) -> None:
        self._tasks = tasks

    async def create(
        self,
        workflow_id: str,
        input: dict[str, Any] | None = None,
        *,
        alias_id: str | None = None,
        version_id: str | None = None,
        randomise_seeds: bool | None = None,
        return_temp_files: bool | None = None,
        resource_config_id: str | None = None,
        file_encoding_strategy: FileEncodingStrategy = "url",
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
        options = SubmitOptions.of(
            alias_id=alias_id,
            version_id=version_id,
            randomise_seeds=randomise_seeds,
            return_temp_files=return_temp_files,
            resource_config_id=resource_config_id,
            file_encoding_strategy=file_encoding_strategy,
        )
        tasks = self._tasks
        snapshot = await tasks.submit(workflow_id, input, options, tasks.deadline(None))
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
        options = WaitOptions.of(
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
