"""The AI Portrait API, one request per method, and its bodies (docs/protocol.md, "AI Portrait").

Bodies are snake_case on the wire, like the service's answers. ``train`` and ``create`` are not
idempotent — a lost answer is reported as :class:`~speedpix_async.OutcomeUnknownError`, never
sent again; ``check`` and the job query are retried like any idempotent call.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._converter import register_wire_models, structure, unstructure
from .._core.answers import Reply
from .._core.retry import OutcomeUnknown
from .._core.transport import Transport
from .._core.waiting import Deadline, DeadlineExceeded
from .._errors import OutcomeUnknownError, ResponseValidationError
from .errors import PortraitOutcomeTimeoutError, PortraitTimeoutError
from .models import JOB_ID_MAX, CheckResult, Job, JobState, TrainingResult, is_job_id

__all__ = [
    "CheckRequest",
    "CreateRequest",
    "PortraitEndpoints",
    "TrainRequest",
    "TrainResponse",
]

PATH_CHECK = "/api/v1/aigc_images/check"
PATH_TRAIN = "/api/v1/aigc_images/train"
PATH_CREATE = "/api/v1/aigc_images/create"
PATH_JOB = "/api/v1/async_jobs/{job_id}"
ACTION_CHECK = "AIGCImageCheck"
ACTION_TRAIN = "AIGCImageTrain"
ACTION_CREATE = "AIGCImageCreate"


@attrs.frozen(kw_only=True)
class CheckRequest:
    action: str
    images: list[str]


@attrs.frozen(kw_only=True)
class CheckResponse:
    check_results: list[CheckResult]
    images: list[str] = attrs.Factory(list)
    cost_time: float | None = None


@attrs.frozen(kw_only=True)
class TrainRequest:
    action: str
    images: list[str]
    model_name: str | None = None
    configure: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class TrainResponse:
    job_id: Any
    """Checked by :func:`~.models.is_job_id` (the one rule for ids), not coerced."""
    model_id: str


@attrs.frozen(kw_only=True)
class CreateRequest:
    action: str
    model_id: str
    """``""`` for a portrait without a trained model (reference only) or a group."""
    model_ids: list[str] | None = None
    model_name: str | None = None
    template_image: str | None = None
    configure: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class CreateResponse:
    image: str
    cost_time: float | None = None


register_wire_models(
    CheckRequest,
    CheckResponse,
    CheckResult,
    TrainRequest,
    TrainResponse,
    CreateRequest,
    CreateResponse,
    case="snake",
)


def _lost(operation: str, lost: OutcomeUnknown) -> OutcomeUnknownError:
    what = {"train": "the training job", "create": "the portrait"}[operation]
    return OutcomeUnknownError(
        f"{operation} was sent but no usable answer came back ({lost.cause.message}); "
        f"{what} may or may not have been made (and billed). The SDK does not send it again: "
        "check before repeating it",
        operation=operation,
        attempts=lost.attempts,
        request_id=getattr(lost.cause, "request_id", None),
    )


def _timed_out(
    operation: str, deadline: Deadline, expired: DeadlineExceeded, idempotent: bool
) -> PortraitTimeoutError:
    """The error for a call whose deadline passed: an unknown outcome when ``train`` or
    ``create`` was on the wire (never sent again), else a plain timeout."""
    within = f"the call's deadline ({deadline.timeout:g}s) passed"
    if expired.request_sent and not idempotent:
        what = {"train": "the training job", "create": "the portrait"}[operation]
        return PortraitOutcomeTimeoutError(
            f"{within} while {operation} was waiting for its answer: {what} may or may not "
            "have been made (and billed). The SDK does not send it again: check before "
            "repeating it, or pass a larger timeout=",
            operation=operation,
            timeout=deadline.timeout,
        )
    last = expired.last_error
    why = f" (last: {last})" if last is not None else ""
    done = "" if idempotent else "; nothing was carried out"
    return PortraitTimeoutError(
        f"{within} before {operation} was answered{why}{done} — try again, or pass a larger "
        "timeout=",
        operation=operation,
        timeout=deadline.timeout,
    )


def parse_job(data: Any, job_id: int) -> Job:
    """The ``job`` object of a job query; wrong types are a ResponseValidationError."""
    job = data.get("job") if isinstance(data, dict) else None
    if not isinstance(job, dict):
        raise ResponseValidationError("the job answer carries no job object @ $.data.job")
    state = job.get("state")
    if isinstance(state, bool) or not isinstance(state, int) or state not in range(4):
        raise ResponseValidationError(
            f"the job's state is {state!r}, not one of the documented 0–3 @ $.data.job.state"
        )
    # The Go SDK matches "Result" case-insensitively; the service sends the capital R.
    raw_result = job.get("Result", job.get("result"))
    try:
        result = TrainingResult.parse(raw_result)
    except ValueError as exc:
        raise ResponseValidationError(
            f"the job's Result is not a usable training result ({exc}) @ $.data.job.Result"
        ) from exc
    message = job.get("message")
    app_id = job.get("app_id")
    return Job(
        id=job_id,
        state=JobState(state),
        message=message if isinstance(message, str) else "",
        result=result,
        app_id=app_id if isinstance(app_id, str) else None,
        model_id=result.model_id if result else None,
    )


class PortraitEndpoints:
    """``check``, ``train``, ``create`` and the job query."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def _call(
        self, operation: str, path: str, body: Any, *, idempotent: bool, deadline: Deadline | None
    ) -> Reply:
        """One call within ``deadline``; a lost answer to ``train``/``create`` is
        :class:`~speedpix_async.OutcomeUnknownError`, a deadline a typed timeout."""
        try:
            return await self.transport.call(path, body, idempotent=idempotent, deadline=deadline)
        except OutcomeUnknown as lost:
            raise _lost(operation, lost) from lost.cause
        except DeadlineExceeded as expired:
            assert deadline is not None
            raise _timed_out(operation, deadline, expired, idempotent) from expired.last_error

    async def check(
        self, images: list[str], deadline: Deadline | None = None
    ) -> tuple[CheckResponse, Reply]:
        body = unstructure(CheckRequest(action=ACTION_CHECK, images=images))
        reply = await self._call("check", PATH_CHECK, body, idempotent=True, deadline=deadline)
        return structure(reply.data, CheckResponse, what="the check answer", path="$.data"), reply

    async def train(
        self, request: TrainRequest, deadline: Deadline | None = None
    ) -> tuple[TrainResponse, Reply]:
        body = unstructure(request)
        reply = await self._call("train", PATH_TRAIN, body, idempotent=False, deadline=deadline)
        trained = structure(reply.data, TrainResponse, what="the train answer", path="$.data")
        if not is_job_id(trained.job_id):
            raise ResponseValidationError(
                f"the train answer's job_id is {trained.job_id!r}, not a job id (an integer "
                f"0–{JOB_ID_MAX}) @ $.data.job_id; the training was started (model "
                f"{trained.model_id!r}) but its job cannot be followed — quote the request id "
                "to support",
                request_id=reply.request_id,
            )
        return trained, reply

    async def create(
        self, request: CreateRequest, deadline: Deadline | None = None
    ) -> tuple[CreateResponse, Reply]:
        body = unstructure(request)
        reply = await self._call("create", PATH_CREATE, body, idempotent=False, deadline=deadline)
        created = structure(reply.data, CreateResponse, what="the create answer", path="$.data")
        return created, reply

    async def job(self, job_id: int) -> Job:
        reply = await self.transport.call(PATH_JOB.format(job_id=job_id), None, idempotent=True)
        return parse_job(reply.data, job_id)
