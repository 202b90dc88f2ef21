"""The SpeedPix API, one request per method, and its request/response bodies
(docs/protocol.md, "SpeedPix endpoints").

Everything above this module works with typed values; everything below it with bytes. Each
method sends one logical call through the transport (which signs and retries it) and structures
the answer. Body fields are snake_case in Python; how each is spelled on the wire is declared
with :func:`~speedpix_async._converter.register_wire_models`.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._converter import register_wire_models, structure, unstructure
from .._core.answers import Reply
from .._core.http import BeforeSend
from .._core.retry import OutcomeUnknown
from .._core.transport import Transport
from .._core.waiting import Deadline, DeadlineExceeded
from .._errors import (
    APIConnectionError,
    APIError,
    ResponseValidationError,
    SpeedPixError,
    UnsupportedOperationError,
)
from .errors import PredictionTimeoutError, SubmitOutcomeUnknownError, SubmitTimeoutError
from .models import Progress, TaskResult, TaskStatus

__all__ = [
    "Endpoints",
    "PromptRequest",
    "PromptResponse",
    "UploadSignRequest",
    "UploadSignResponse",
    "cancel_refused",
    "list_refused",
]


@attrs.frozen(kw_only=True)
class PromptRequest:
    """``POST /scc/comfy_prompt`` body."""

    workflow_id: str
    inputs: dict[str, Any]
    alias_id: str | None = None
    version_id: str | None = None
    randomise_seeds: bool | None = None
    return_temp_files: bool | None = None


#: Longest task id accepted from the server.
TASK_ID_MAX = 256


def _server_task_id(instance: Any, attribute: Any, value: str) -> None:
    """A task id from the server must be usable as one: it goes back into request bodies."""
    if not value or len(value) > TASK_ID_MAX or value != value.strip() or not value.isprintable():
        raise ValueError(
            f"taskId {value[:80]!r} is not a task id (empty, too long, or with whitespace or "
            "control characters)"
        )


@attrs.frozen(kw_only=True)
class PromptResponse:
    task_id: str = attrs.field(validator=_server_task_id)
    status: TaskStatus = TaskStatus.WAITING
    estimated_duration_in_seconds: float | None = None


@attrs.frozen(kw_only=True)
class TaskRequest:
    """Body of ``comfy_get_progress`` and ``comfy_get_result``."""

    task_id: str


@attrs.frozen(kw_only=True)
class UploadSignRequest:
    content_type: str
    original_filename: str
    size: int | None = None


@attrs.frozen(kw_only=True)
class UploadSignResponse:
    upload_url: str = attrs.field(repr=False)
    object_key: str
    path: str
    expire_time: int | None = None
    access_url: str | None = None


# The submit body is snake_case on the wire; every other body camelCase (docs/protocol.md).
register_wire_models(PromptRequest, case="snake")
register_wire_models(
    PromptResponse,
    TaskRequest,
    UploadSignRequest,
    UploadSignResponse,
    Progress,
    TaskResult,
    case="camel",
    renames={"eta": "etaRelative", "queue_position": "lastQueueRemaining"},
)


PATH_PROMPT = "/scc/comfy_prompt"
PATH_PROGRESS = "/scc/comfy_get_progress"
PATH_RESULT = "/scc/comfy_get_result"
PATH_UPLOAD_SIGN = "/scc/sp_create_temp_file_upload_sign"
#: Resource pools for a submit; sent unsigned, as the API requires.
RESOURCE_CONFIG_HEADER = "X-SP-RESOURCE-CONFIG-ID"


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


def cancel_refused(task_id: str) -> UnsupportedOperationError:
    """What cancelling gets: the API has no cancel endpoint (docs/protocol.md, "Unknowns"),
    and nothing pretends the task stopped (the official Python SDK fakes a ``failed`` state)."""
    return UnsupportedOperationError(
        f"cannot cancel task {task_id!r}: the SpeedPix API has no cancel endpoint, so the "
        "task runs to completion on the server; stop waiting for it instead (cancel the "
        "awaiting task, or use a timeout)"
    )


def list_refused() -> UnsupportedOperationError:
    """What listing gets: the API has no endpoint that lists tasks."""
    return UnsupportedOperationError(
        "cannot list predictions: the SpeedPix API has no list endpoint; keep the task ids "
        "that create() returns (handle.id) if you need to find tasks again"
    )


class Endpoints:
    """``comfy_prompt``, ``comfy_get_progress``, ``comfy_get_result`` and the upload sign."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def submit(
        self,
        request: PromptRequest,
        *,
        resource_config_id: str | None,
        deadline: Deadline,
        before_send: BeforeSend | None = None,
    ) -> tuple[PromptResponse, Reply]:
        """Submit a task. Never sends it twice: a lost answer raises
        :class:`~speedpix_async.SubmitOutcomeUnknownError`, a deadline that strikes while the
        request is on the wire :class:`~speedpix_async.SubmitTimeoutError`. ``before_send``
        runs when the request is about to go out (see :data:`~.._core.http.BeforeSend`)."""
        headers = (
            None if resource_config_id is None else {RESOURCE_CONFIG_HEADER: resource_config_id}
        )
        workflow = request.workflow_id
        try:
            reply = await self.transport.call(
                PATH_PROMPT,
                unstructure(request),
                idempotent=False,
                headers=headers,
                deadline=deadline,
                before_send=before_send,
            )
        except OutcomeUnknown as lost:
            raise SubmitOutcomeUnknownError(
                f"comfy_prompt for workflow {workflow!r} was sent but {_why_unknown(lost.cause)}; "
                "the task may or may not exist. The API cannot list tasks, so the SDK did not "
                "submit again (that could run the workflow twice): check your own records "
                "before resubmitting",
                workflow_id=workflow,
                alias_id=request.alias_id,
                version_id=request.version_id,
                attempts=lost.attempts,
                request_id=getattr(lost.cause, "request_id", None),
            ) from lost.cause
        except DeadlineExceeded as expired:
            if expired.request_sent:
                raise SubmitTimeoutError(
                    f"the call's deadline ({deadline.timeout:g}s) passed while comfy_prompt for "
                    f"workflow {workflow!r} was waiting for its answer; the task may or may not "
                    "exist (the API cannot list tasks, and the SDK does not submit twice): check "
                    "your own records before resubmitting, or pass a larger timeout=",
                    workflow_id=workflow,
                    alias_id=request.alias_id,
                    version_id=request.version_id,
                    timeout=deadline.timeout,
                ) from None
            refusal = expired.last_error
            if refusal is not None:
                how = (
                    "could not be sent"
                    if isinstance(refusal, APIConnectionError)
                    else "was being refused by the service"
                )
                raise PredictionTimeoutError(
                    f"the call's deadline ({deadline.timeout:g}s) passed while comfy_prompt for "
                    f"workflow {workflow!r} {how} (last: {refusal}); no task was created, so it "
                    "is safe to submit again — later, or with a larger timeout=",
                    task_id=None,
                    timeout=deadline.timeout,
                ) from refusal
            raise PredictionTimeoutError(
                f"the call's deadline ({deadline.timeout:g}s) passed before comfy_prompt for "
                f"workflow {workflow!r} could be sent; no task was created — pass a larger "
                "timeout=",
                task_id=None,
                timeout=deadline.timeout,
            ) from None
        submitted = structure(
            reply.data, PromptResponse, what="the comfy_prompt answer", path="$.data"
        )
        return submitted, reply

    async def progress(self, task_id: str) -> Progress:
        """One ``comfy_get_progress`` report."""
        reply = await self.transport.call(
            PATH_PROGRESS, unstructure(TaskRequest(task_id=task_id)), idempotent=True
        )
        return structure(reply.data, Progress, what="the comfy_get_progress answer", path="$.data")

    async def result(self, task_id: str) -> tuple[TaskResult, Reply]:
        """One ``comfy_get_result`` answer (it also reports unfinished tasks)."""
        reply = await self.transport.call(
            PATH_RESULT, unstructure(TaskRequest(task_id=task_id)), idempotent=True
        )
        result = structure(
            reply.data, TaskResult, what="the comfy_get_result answer", path="$.data"
        )
        return result, reply

    async def upload_sign(self, request: UploadSignRequest) -> tuple[UploadSignResponse, Reply]:
        """A presigned PUT URL for one input file."""
        reply = await self.transport.call(PATH_UPLOAD_SIGN, unstructure(request), idempotent=True)
        signed = structure(
            reply.data,
            UploadSignResponse,
            what="the sp_create_temp_file_upload_sign answer",
            path="$.data",
        )
        return signed, reply
