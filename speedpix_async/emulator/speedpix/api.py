"""The gateway-fronted SpeedPix API of the emulator (docs/protocol.md, "SpeedPix").

Every request passes the gateway checks first (unknown path, method, then the digest signature
over the raw body), exactly as a real client meets them. Business errors are HTTP 200 envelopes
with ``status: 20``; the error codes are our own choice since the real vocabulary is
unpublished, and follow Alibaba Cloud's usual spelling.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._faults import FaultInjector
from .._gateway import GatewayAuth
from .._headers import HttpDate, request_id
from .._requests import TooDeep, load_body, public_url, read_body
from .._stats import Stats
from .._store import MAX_UPLOAD_BYTES, ObjectStore
from .tasks import Task, TaskStore
from .workflows import InvalidInput, NotFound, WorkflowRegistry

__all__ = ["SpeedPixApi", "json_bytes"]

OK = 10
FAILED = 20
JSON_TYPE = "application/json;charset=utf-8"

RouteHandler = Callable[[dict[str, Any], Request], Awaitable[dict[str, Any]]]


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def invoke_id() -> str:
    return "i_" + secrets.token_hex(12)


def ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"status": OK, "apiInvokeId": invoke_id(), "data": data}


def failed(
    code: str, message: str, sub_code: str | None = None, sub_message: str | None = None
) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "status": FAILED,
        "apiInvokeId": invoke_id(),
        "errCode": code,
        "errMessage": message,
    }
    if sub_code:
        envelope["subErrCode"] = sub_code
        envelope["subErrMessage"] = sub_message or message
    return envelope


#: The header naming the resource pools a task may run in, in order (docs/protocol.md).
RESOURCE_HEADER = "x-sp-resource-config-id"


def _pool(header: str | None) -> str:
    """The pool a task runs in: the first one its header names, else the shared ``default``."""
    first = (header or "").split(",", 1)[0].strip()
    return first or "default"


class _BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _without_nulls(payload: dict[str, Any]) -> dict[str, Any]:
    # The official SDKs send unset fields as null (docs/protocol.md): null means "not given".
    return {key: value for key, value in payload.items() if value is not None}


def _string_field(payload: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise _BadRequest(f"{name} is required")
        return None
    if not isinstance(value, str) or not value:
        raise _BadRequest(f"{name} must be a non-empty string")
    return value


def _bool_field(payload: dict[str, Any], name: str) -> bool:
    value = payload.get(name, False)
    if not isinstance(value, bool):
        raise _BadRequest(f"{name} must be a boolean")
    return value


class SpeedPixApi:
    """The Starlette endpoint (:meth:`handle`) serving every gateway-fronted path."""

    def __init__(
        self,
        *,
        gateway: GatewayAuth,
        tasks: TaskStore,
        workflows: WorkflowRegistry,
        store: ObjectStore,
        faults: FaultInjector,
        stats: Stats,
        clock: Callable[[], float],
    ) -> None:
        self.gateway = gateway
        self.tasks = tasks
        self.workflows = workflows
        self.store = store
        self.faults = faults
        self.stats = stats
        self.clock = clock
        self._date = HttpDate()
        self.routes: dict[str, RouteHandler] = {
            "/scc/comfy_prompt": self.comfy_prompt,
            "/scc/comfy_get_progress": self.comfy_get_progress,
            "/scc/comfy_get_result": self.comfy_get_result,
            "/scc/sp_create_temp_file_upload_sign": self.upload_sign,
        }

    def add_route(self, path: str, handler: RouteHandler) -> None:
        self.routes[path] = handler

    # ------------------------------------------------------------------ gateway layer

    def gateway_headers(self) -> dict[str, str]:
        return {"x-ca-request-id": request_id(), "date": self._date.at(self.clock())}

    def gateway_error(self, status: int, message: str) -> Response:
        headers = self.gateway_headers()
        headers["x-ca-error-message"] = message
        return Response(b"", status_code=status, headers=headers)

    def respond(self, envelope: dict[str, Any]) -> Response:
        return Response(
            json_bytes(envelope),
            status_code=200,
            headers=self.gateway_headers(),
            media_type=JSON_TYPE,
        )

    async def handle(self, request: Request) -> Response:
        path = request.scope["path"]  # not request.url: building the URL costs more than this
        self.stats.request(path, request.client)
        handler = self.routes.get(path)
        if handler is None:
            return self.gateway_error(400, "API Not Found")
        if request.method != "POST":
            return self.gateway_error(400, "Invalid HttpMethod")
        # What the headers alone can refuse is refused before the body is read: an unknown app
        # key costs the emulator nothing, whatever it sends.
        if not self.gateway.knows(request.headers.get("x-ca-key")):
            self.stats.auth_rejected("invalid_app_key")
            return self.gateway_error(400, "Invalid AppKey")
        body = await read_body(request)
        if body is None:
            self.stats.auth_rejected("body_too_large")
            return self.gateway_error(413, "Request Entity Too Large")
        rejection = self.gateway.verify(
            method=request.method,
            path=path,
            query={k: request.query_params.getlist(k) for k in request.query_params},
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        if rejection is not None:
            self.stats.auth_rejected(rejection.reason)
            return self.gateway_error(rejection.status, rejection.message)
        return await self.faults.apply(path, lambda: self._handle(handler, body, request), self)

    # ------------------------------------------------------------------ fault responses

    def rejection(self, kind: str) -> Response | None:
        if kind == "throttle":
            return self.gateway_error(self.faults.throttle_status, "Throttled by APP Flow Control")
        if kind == "unavailable":
            return self.gateway_error(503, "Service Unavailable")
        return self.respond(
            failed(
                "InternalError",
                "Internal error, please retry later",
                "SystemBusy",
                "The system is busy, please try again later.",
            )
        )

    def garble(self, response: Response | None) -> Response | None:
        whole = bytes(response.body) if response is not None else json_bytes(ok({"taskId": "0"}))
        return Response(
            whole[: max(1, len(whole) // 2)],
            status_code=200,
            headers=self.gateway_headers(),
            media_type=JSON_TYPE,
        )

    async def _handle(self, handler: RouteHandler, body: bytes, request: Request) -> Response:
        try:
            payload = load_body(body) if body else {}
        except TooDeep as exc:
            return self.respond(failed("InvalidParameter", str(exc)))
        except ValueError:
            return self.respond(failed("InvalidParameter", "the request body is not valid JSON"))
        if not isinstance(payload, dict):
            return self.respond(
                failed("InvalidParameter", "the request body must be a JSON object")
            )
        try:
            envelope = await handler(_without_nulls(payload), request)
        except _BadRequest as exc:
            envelope = failed("InvalidParameter", exc.message)
        return self.respond(envelope)

    # ------------------------------------------------------------------ routes

    async def comfy_prompt(self, payload: dict[str, Any], request: Request) -> dict[str, Any]:
        workflow_id = _string_field(payload, "workflow_id", required=True)
        alias_id = _string_field(payload, "alias_id", required=False)
        version_id = _string_field(payload, "version_id", required=False)
        _bool_field(payload, "randomise_seeds")
        _bool_field(payload, "return_temp_files")
        inputs = payload.get("inputs", {})
        if not isinstance(inputs, dict):
            raise _BadRequest("inputs must be a JSON object")
        assert workflow_id is not None
        try:
            version, spec = self.workflows.resolve(workflow_id, alias_id, version_id)
        except NotFound as exc:
            return failed(exc.code, exc.message)
        try:
            if spec.validate is not None:
                spec.validate(inputs)
            task = self.tasks.create(
                workflow_id,
                version,
                spec,
                inputs,
                owner=request.headers.get("x-ca-key", ""),
                pool=_pool(request.headers.get(RESOURCE_HEADER)),
            )
        except InvalidInput as exc:
            return failed("InvalidParameter", f"invalid inputs for {workflow_id}: {exc}")
        self.stats.task_created(workflow_id, inputs)
        return ok(
            {
                "taskId": task.id,
                "status": "waiting",
                "estimatedDurationInSeconds": round(task.estimated_duration, 3),
            }
        )

    async def upload_sign(self, payload: dict[str, Any], request: Request) -> dict[str, Any]:
        content_type = _string_field(payload, "contentType", required=True)
        assert content_type is not None
        if "/" not in content_type:
            raise _BadRequest(f"contentType must be a MIME type, got {content_type!r}")
        filename = _string_field(payload, "originalFilename", required=False) or "file"
        size = payload.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise _BadRequest("size must be a non-negative integer")
        if size is not None and size > MAX_UPLOAD_BYTES:
            return failed("FileTooLarge", f"files are limited to {MAX_UPLOAD_BYTES} bytes")
        slot = self.store.upload_slot(
            filename=filename, content_type=content_type, base_url=public_url(request)
        )
        return ok(slot)

    def _task(self, payload: dict[str, Any], request: Request) -> Task | dict[str, Any]:
        task_id = payload.get("taskId")
        if not isinstance(task_id, str) or not task_id:
            raise _BadRequest("taskId is required")
        task = self.tasks.get(task_id)
        # Tasks belong to the app that submitted them: to anyone else they do not exist.
        if task is None or task.owner != request.headers.get("x-ca-key"):
            return failed("TaskNotFound", f"task {task_id!r} does not exist")
        return task

    async def comfy_get_progress(self, payload: dict[str, Any], request: Request) -> dict[str, Any]:
        found = self._task(payload, request)
        if isinstance(found, dict):
            return found
        task = found
        now = self.tasks.now()
        data: dict[str, Any] = {"taskId": task.id}
        if now < task.starts_at:
            data.update(
                status="waiting",
                progress=0.0,
                etaRelative=round(task.eta(now), 3),
                lastQueueRemaining=self.tasks.queued_ahead(task, now),
                message="waiting in queue",
            )
        elif now < task.ends_at:
            fraction = (now - task.starts_at) / task.run_seconds if task.run_seconds else 1.0
            data.update(
                status="running",
                progress=round(min(fraction, 0.999), 4),
                etaRelative=round(task.eta(now), 3),
                lastQueueRemaining=0,
                message=f"running {task.workflow_id}",
            )
        else:
            outcome = await self.tasks.finish(task, public_url(request))
            data.update(
                status="succeeded" if outcome.succeeded else "failed",
                progress=1.0,
                etaRelative=0,
                lastQueueRemaining=0,
                message="finished" if outcome.succeeded else (outcome.error_message or "failed"),
            )
        return ok(data)

    async def comfy_get_result(self, payload: dict[str, Any], request: Request) -> dict[str, Any]:
        found = self._task(payload, request)
        if isinstance(found, dict):
            return found
        task = found
        now = self.tasks.now()
        if now < task.ends_at:
            return ok(
                {"taskId": task.id, "status": "waiting" if now < task.starts_at else "running"}
            )
        outcome = await self.tasks.finish(task, public_url(request))
        begin = int(task.starts_at * 1000)
        end = int(task.ends_at * 1000)
        timing = {"taskDuration": end - begin, "taskBeginTime": begin, "taskEndTime": end}
        if outcome.succeeded:
            return ok(
                {
                    "taskId": task.id,
                    "status": "succeeded",
                    **timing,
                    "images": list(outcome.images),
                    "result": outcome.result,
                }
            )
        if outcome.failure_style == "data":
            return ok(
                {"taskId": task.id, "status": "failed", **timing, "images": [], "result": None}
            )
        return failed(
            "TaskFailed",
            "the task failed",
            outcome.error_code or "WorkflowExecutionError",
            outcome.error_message or "the workflow failed",
        )
