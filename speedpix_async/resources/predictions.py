"""``client.predictions``: submit a workflow task, read its progress and result.

Each method here makes one request (``create`` makes one after preparing its inputs); waiting,
which takes many, lives on :class:`~speedpix_async._handle.AsyncPredictionHandle`.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any, NoReturn

from .._converter import structure, unstructure
from .._errors import (
    APIConnectionError,
    APIError,
    InputError,
    ResponseValidationError,
    SpeedPixError,
    SubmitOutcomeUnknownError,
    UnsupportedOperationError,
)
from .._handle import AsyncPredictionHandle
from .._inputs import prepare_inputs
from .._polling import ProgressCallback
from .._validate import check_bool, check_identifier, check_task_id
from .._wire import PromptRequest, PromptResponse, TaskRequest
from ..models import Prediction, Progress, TaskResult, TaskStatus
from ..outputs import output_from_result

if TYPE_CHECKING:
    from .._client import AsyncSpeedPix

__all__ = ["AsyncPredictions"]

PATH_PROMPT = "/scc/comfy_prompt"
PATH_PROGRESS = "/scc/comfy_get_progress"
PATH_RESULT = "/scc/comfy_get_result"
RESOURCE_CONFIG_HEADER = "X-SP-RESOURCE-CONFIG-ID"

FILE_ENCODING_STRATEGIES = ("url", "base64")


def _why_unknown(error: SpeedPixError) -> str:
    if isinstance(error, APIConnectionError):
        return f"the connection failed after sending ({error.message})"
    if isinstance(error, ResponseValidationError):
        return f"the answer could not be read ({error.message})"
    if isinstance(error, APIError) and error.status_code is not None:
        return (
            f"the answer was HTTP {error.status_code}, which does not say whether it ran "
            f"({error.message})"
        )
    return f"it failed with {type(error).__name__}"


class AsyncPredictions:
    """Workflow tasks (PROTOCOL A.4.1–A.4.3). Reach it as ``client.predictions``."""

    def __init__(self, client: AsyncSpeedPix) -> None:
        self._client = client

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
        file_encoding_strategy: str = "url",
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
        check_identifier("workflow_id", workflow_id)
        check_identifier("alias_id", alias_id, allow_none=True)
        check_identifier("version_id", version_id, allow_none=True)
        if alias_id is not None and version_id is not None:
            raise InputError(
                "pass either alias_id or version_id, not both (the service does not document "
                "which one wins)"
            )
        if alias_id is None and version_id is None:
            alias_id = "main"
        check_bool("randomise_seeds", randomise_seeds)
        check_bool("return_temp_files", return_temp_files)
        headers = None
        if resource_config_id is not None:
            check_identifier("resource_config_id", resource_config_id)
            if " " in resource_config_id:
                raise InputError(
                    "resource_config_id is a comma-separated list of ids without spaces, e.g. "
                    f"'pool-a,default'; got {resource_config_id!r}"
                )
            headers = {RESOURCE_CONFIG_HEADER: resource_config_id}
        if file_encoding_strategy not in FILE_ENCODING_STRATEGIES:
            raise InputError(
                f"file_encoding_strategy must be 'url' or 'base64', got {file_encoding_strategy!r}"
            )
        client = self._client
        inputs = await prepare_inputs(
            input,
            files=client.files,
            strategy=file_encoding_strategy,
            upload_local_paths=client._config.upload_local_paths,
        )
        body = unstructure(
            PromptRequest(
                workflow_id=workflow_id,
                inputs=inputs,
                alias_id=alias_id,
                version_id=version_id,
                randomise_seeds=randomise_seeds,
                return_temp_files=return_temp_files,
            )
        )

        def unknown_outcome(error: SpeedPixError, attempts: int) -> SpeedPixError:
            return SubmitOutcomeUnknownError(
                f"comfy_prompt for workflow {workflow_id!r} was sent but {_why_unknown(error)}; "
                "the task may or may not exist. The API cannot list tasks, so the SDK did not "
                "submit again (that could run the workflow twice): check your own records "
                "before resubmitting",
                workflow_id=workflow_id,
                alias_id=alias_id,
                version_id=version_id,
                attempts=attempts,
                request_id=getattr(error, "request_id", None),
            )

        created_at = _dt.datetime.now(_dt.timezone.utc)
        reply = await client._transport.call(
            PATH_PROMPT, body, idempotent=False, headers=headers, unknown_outcome=unknown_outcome
        )
        submitted = structure(
            reply.data, PromptResponse, what="the comfy_prompt answer", path="$.data"
        )
        prediction = Prediction(
            id=submitted.task_id,
            status=submitted.status,
            workflow_id=workflow_id,
            alias_id=alias_id,
            version_id=version_id,
            estimated_duration=submitted.estimated_duration_in_seconds,
            eta=submitted.estimated_duration_in_seconds,
            api_invoke_id=reply.api_invoke_id,
            created_at=created_at,
        )
        return AsyncPredictionHandle(self, prediction, fresh=True)

    async def progress(self, task_id: str) -> Progress:
        """One ``comfy_get_progress`` report."""
        check_task_id(task_id)
        reply = await self._client._transport.call(
            PATH_PROGRESS, unstructure(TaskRequest(task_id=task_id)), idempotent=True
        )
        return structure(reply.data, Progress, what="the comfy_get_progress answer", path="$.data")

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
        check_task_id(task_id)
        reply = await self._client._transport.call(
            PATH_RESULT, unstructure(TaskRequest(task_id=task_id)), idempotent=True
        )
        result = structure(
            reply.data, TaskResult, what="the comfy_get_result answer", path="$.data"
        )
        output = None
        if result.status == TaskStatus.SUCCEEDED:
            output = output_from_result(result, self._client._transport)
        return Prediction(id=task_id, status=result.status).with_result(
            result, output, reply.api_invoke_id
        )

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
        check_task_id(task_id)
        handle = AsyncPredictionHandle(
            self, Prediction(id=task_id, status=TaskStatus.WAITING), fresh=False
        )
        return await handle.wait(
            timeout=timeout, on_progress=on_progress, polling_interval=polling_interval
        )

    def handle(self, task_id: str) -> AsyncPredictionHandle:
        """A handle to an existing task, for ``reload()``, ``wait()`` and ``watch()``."""
        check_task_id(task_id)
        return AsyncPredictionHandle(
            self, Prediction(id=task_id, status=TaskStatus.WAITING), fresh=False
        )

    async def cancel(self, task_id: str) -> NoReturn:
        """Not possible: the SpeedPix API has no cancel endpoint (PROTOCOL, Unknowns 1).

        Always raises :class:`~speedpix_async.UnsupportedOperationError`; nothing is sent and no
        local state pretends the task stopped (the official Python SDK fakes a ``failed`` state).
        """
        raise UnsupportedOperationError(
            f"cannot cancel task {task_id!r}: the SpeedPix API has no cancel endpoint, so the "
            "task runs to completion on the server; stop waiting for it instead (cancel the "
            "awaiting task, or use a timeout)"
        )

    async def list(self) -> NoReturn:
        """Not possible: the SpeedPix API has no endpoint that lists tasks.

        Always raises :class:`~speedpix_async.UnsupportedOperationError`; keep the task ids
        returned by ``create`` if you need them later.
        """
        raise UnsupportedOperationError(
            "cannot list predictions: the SpeedPix API has no list endpoint; keep the task ids "
            "that create() returns (handle.id) if you need to find tasks again"
        )
