"""The AI Portrait routes of the emulator (docs/protocol.md, "AI Portrait").

Every request is authenticated the way the service does it — ``Authorization:
<AppId>:<hex HMAC-SHA256>`` over the method, the MD5 of the raw body and the path — and answered
with the ``{request_id, code, message, data}`` envelope; HTTP 200 only on success. What is not
documented, and chosen here: an unknown job id is HTTP 404 (``PARAMETER_ERROR``, "job not
found"); an out-of-range configure value is HTTP 462 ("Invalid input data. Please check the
input dict."); a malformed body likewise.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from ..._signing import pai_sign_string, pai_signature
from .._faults import FaultInjector
from .._requests import MAX_API_BODY, load_body, read_body
from .._stats import Stats
from .faces import MIN_SIDE, Face, find_faces
from .render import render_portrait
from .service import PortraitService, Refusal, check_config, invalid_input

__all__ = ["JOB_ROUTE", "PortraitApi"]

JSON_TYPE = "application/json"
CHECK_ROUTE = "/api/v1/aigc_images/check"
TRAIN_ROUTE = "/api/v1/aigc_images/train"
CREATE_ROUTE = "/api/v1/aigc_images/create"
#: Job queries are counted (and faulted) under this one route, whatever the id.
JOB_ROUTE = "/api/v1/async_jobs"
#: Seconds creating one portrait takes, before ``time_scale`` (the service: tens of seconds).
CREATE_SECONDS = 2.0
TRAIN_MODELS = {"": "sd15", "train_xl": "sdxl"}
CREATE_MODELS = {"": "sd15", "create_xl": "sdxl"}
T2I_TEMPLATE = "t2i_generate"

Handler = Callable[[dict[str, Any], str, str], Awaitable[dict[str, Any]]]
"""A route: (payload, the caller's AppId, the request id) → the envelope's ``data``."""


def envelope(
    status: int, code: str, message: str, data: Any = None, *, request_id: str | None = None
) -> Response:
    body: dict[str, Any] = {
        "request_id": request_id or str(uuid.uuid4()),
        "code": code,
        "message": message,
    }
    if data is not None:
        body["data"] = data
    return Response(
        json.dumps(body, ensure_ascii=False).encode(), status_code=status, media_type=JSON_TYPE
    )


def _strings(value: Any, most: int) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= most:
        raise invalid_input()
    if not all(isinstance(item, str) and item for item in value):
        raise invalid_input()
    return value


class PortraitApi:
    """The Starlette endpoint (:meth:`handle`) for ``/api/v1/…``."""

    def __init__(
        self,
        *,
        service: PortraitService,
        credentials: Mapping[str, str],
        stats: Stats,
        faults: FaultInjector,
        clock: Callable[[], float],
        time_scale: float,
        sdxl: bool = True,
        quota: int | None = None,
    ) -> None:
        self.service = service
        self.credentials = dict(credentials)
        self.stats = stats
        self.faults = faults
        self.clock = clock
        self.time_scale = time_scale
        self.sdxl = sdxl
        """Whether SDXL is activated for the account (else ``*_xl`` models are HTTP 404)."""
        self.quota = quota
        """Calls to check/train/create allowed before ``EXCEEDED_QUOTA_ERROR`` (None: no limit)."""
        self._calls = 0
        self.routes: dict[str, Handler] = {
            CHECK_ROUTE: self.check,
            TRAIN_ROUTE: self.train,
            CREATE_ROUTE: self.create,
        }

    # ------------------------------------------------------------------ the envelope layer

    def _known_app(self, request: Request) -> Response | None:
        """The refusal of an unknown AppId — from the header alone, before any body is read."""
        app_id = request.headers.get("authorization", "").partition(":")[0]
        if not app_id or app_id not in self.credentials:
            self.stats.auth_rejected("portrait_unknown_app_id")
            return envelope(400, "PARAMETER_ERROR", "not found appid")
        return None

    def _authenticate(self, request: Request, body: bytes) -> tuple[str | None, Response | None]:
        header = request.headers.get("authorization", "")
        app_id, _, signature = header.partition(":")
        token = self.credentials.get(app_id)
        if not app_id or token is None:
            self.stats.auth_rejected("portrait_unknown_app_id")
            return None, envelope(400, "PARAMETER_ERROR", "not found appid")
        query = {k: request.query_params.getlist(k) for k in request.query_params}
        expected = pai_signature(
            token, pai_sign_string(request.method, body, request.url.path, query or None)
        )
        if not hmac.compare_digest(expected, signature.strip().lower()):
            self.stats.auth_rejected("portrait_sign_error")
            return None, envelope(401, "PARAMETER_ERROR", "sign error")
        return app_id, None

    async def doubled_slash(self, request: Request) -> Response:
        """``//api/v1/…``: what a client makes of a host given with a trailing ``/`` (the Java
        SDK does). The service has no such API: a 404 envelope that says why, never an empty
        body."""
        self.stats.request("//api/v1", request.client)
        return envelope(
            404,
            "PARAMETER_ERROR",
            f"no such API: {request.url.path} (the host was given with a trailing '/'; remove it)",
        )

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        job_id: str | None = None
        if path.startswith(JOB_ROUTE + "/"):
            route, job_id = JOB_ROUTE, path[len(JOB_ROUTE) + 1 :]
        else:
            route = path
        self.stats.request(route, request.client)
        if route != JOB_ROUTE and (route not in self.routes or request.method != "POST"):
            return envelope(404, "PARAMETER_ERROR", "model not found")
        unknown = self._known_app(request)
        if unknown is not None:
            return unknown
        body = await read_body(request)
        if body is None:
            self.stats.auth_rejected("body_too_large")
            return envelope(
                413, "PARAMETER_ERROR", f"request body larger than {MAX_API_BODY} bytes"
            )
        app_id, refused = self._authenticate(request, body)
        if refused is not None or app_id is None:
            return refused or envelope(401, "PARAMETER_ERROR", "sign error")
        if job_id is not None:
            return await self.faults.apply(route, lambda: self._job(job_id, app_id), self)
        if self.quota is not None:
            self._calls += 1
            if self._calls > self.quota:
                return envelope(400, "EXCEEDED_QUOTA_ERROR", "exceeded quota")
        return await self.faults.apply(
            route, lambda: self._dispatch(self.routes[route], body, app_id), self
        )

    async def _dispatch(self, handler: Handler, body: bytes, app_id: str) -> Response:
        request_id = str(uuid.uuid4())
        try:
            # Too deep, or not JSON at all: the service's "invalid input" (a ValueError here).
            payload = load_body(body) if body.strip() else None
            if not isinstance(payload, dict):
                raise invalid_input()
            data = await handler(payload, app_id, request_id)
        except ValueError:
            return envelope(
                462,
                "error",
                "Invalid input data. Please check the input dict.",
                request_id=request_id,
            )
        except Refusal as refusal:
            return envelope(refusal.status, refusal.code, refusal.message, request_id=request_id)
        return envelope(200, "OK", "success", data, request_id=request_id)

    # ------------------------------------------------------------------ fault responses

    def rejection(self, kind: str) -> Response | None:
        if kind == "throttle":
            return envelope(429, "TOO_MANY_REQUESTS", "too many requests, slow down")
        if kind == "unavailable":
            return envelope(503, "SERVICE_UNAVAILABLE", "the service is busy, try again later")
        return None  # no "busy envelope" on a service whose only success is HTTP 200

    def garble(self, response: Response | None) -> Response | None:
        whole = (
            bytes(response.body)
            if response is not None
            else json.dumps({"request_id": "x", "code": "OK", "data": {}}).encode()
        )
        return Response(whole[: max(1, len(whole) // 2)], status_code=200, media_type=JSON_TYPE)

    # ------------------------------------------------------------------ routes

    async def _job(self, raw_id: str, app_id: str) -> Response:
        job = self.service.job(int(raw_id)) if raw_id.isdigit() else None
        if job is None or job.app_id != app_id:
            return envelope(404, "PARAMETER_ERROR", "job not found")
        now = self.clock()
        data = {
            "job": {
                "id": job.id,
                "app_id": job.app_id,
                "state": job.state(now),
                "message": job.message(now),
                # A JSON string, as the Go SDK requires (an object there reads as empty).
                "Result": job.result(now),
            }
        }
        return envelope(200, "OK", "success", data)

    def _family(self, model_name: Any, models: Mapping[str, str]) -> str:
        name = "" if model_name is None else model_name
        if not isinstance(name, str) or name not in models:
            raise Refusal(404, "PARAMETER_ERROR", "model not found")
        family = models[name]
        if family == "sdxl" and not self.sdxl:
            raise Refusal(404, "PARAMETER_ERROR", "model not found")
        return family

    async def check(self, payload: dict[str, Any], app_id: str, request_id: str) -> dict[str, Any]:
        self._family(payload.get("model_name"), TRAIN_MODELS)
        urls = _strings(payload.get("images"), 100)
        started = time.perf_counter()
        results = await anyio.to_thread.run_sync(self.service.check, urls)
        return {
            # The guide: "the same as the top-level request_id" (the Java SDK reads this one).
            "request_id": request_id,
            "images": urls,
            "cost_time": round(time.perf_counter() - started, 3),
            "check_results": results,
        }

    async def train(self, payload: dict[str, Any], app_id: str, request_id: str) -> dict[str, Any]:
        family = self._family(payload.get("model_name"), TRAIN_MODELS)
        urls = _strings(payload.get("images"), 20)
        configure = payload.get("configure") or {}
        if not isinstance(configure, dict):
            raise invalid_input()
        kind = family
        if configure.get("train_scene_lora_bool"):
            if family != "sdxl":
                raise invalid_input()
            prompts = _strings(configure.get("scene_lora_prompts"), 20)
            if len(prompts) != len(urls):
                raise invalid_input()
            kind = "scene_lora"
        job = await anyio.to_thread.run_sync(self.service.train, app_id, urls, kind)
        self.stats.portrait_job_created()
        return {"job_id": job.id, "model_id": job.model.model_id}

    async def create(self, payload: dict[str, Any], app_id: str, request_id: str) -> dict[str, Any]:
        # The documented checks in the order a service makes them: the request's shape (model
        # family, configure ranges, a template when one is needed) before any lookup (models,
        # the scene, the template's download and faces). docs/protocol.md, "AI Portrait".
        family = self._family(payload.get("model_name"), CREATE_MODELS)
        configure = check_config(payload.get("configure"), family)
        scene_id = configure.get("scene_id")
        prompt = configure.get("t2i_prompt")
        template_url = payload.get("template_image")
        generated = bool(prompt or (scene_id and template_url in (None, "", T2I_TEMPLATE)))
        if not generated and (
            not isinstance(template_url, str) or template_url in ("", T2I_TEMPLATE)
        ):
            raise Refusal(462, "error", "Image not provided. Please check the template_image.")
        persons = await anyio.to_thread.run_sync(self._persons, payload, configure, family, app_id)
        if scene_id:
            self.service.scene(scene_id, app_id)
        started = time.perf_counter()
        template: bytes | None = None
        faces: list[Face] = []
        if not generated:
            assert isinstance(template_url, str)
            template, faces = await anyio.to_thread.run_sync(self._template, template_url)
            if len(faces) != len(persons):
                raise Refusal(
                    469,
                    "error",
                    "Please confirm if the number of faces in the template corresponds to the "
                    "user ID.",
                )
        await anyio.sleep(CREATE_SECONDS * self.time_scale)
        image = await anyio.to_thread.run_sync(
            lambda: render_portrait(
                template=template,
                template_faces=faces,
                persons=persons,
                prompt=prompt or (f"scene {scene_id}" if scene_id else None),
                style=configure.get("style_name"),
            )
        )
        self.stats.portrait_created()
        return {
            "image": base64.b64encode(image).decode("ascii"),
            "cost_time": round(time.perf_counter() - started, 3),
        }

    def _persons(
        self, payload: dict[str, Any], configure: dict[str, Any], family: str, app_id: str
    ) -> list[int]:
        """Whose faces go into the portrait (one per model id, or the reference's)."""
        model_id = payload.get("model_id")
        model_ids = payload.get("model_ids")
        if model_ids:
            ids = _strings(model_ids, 8)
        elif isinstance(model_id, str) and model_id:
            ids = [model_id]
        elif configure.get("ipa_control_only"):
            try:
                _, _, faces = find_faces(self.service.fetch(configure["ipa_image_path"]))
            except Exception as exc:
                raise invalid_input() from exc
            if len(faces) != 1:
                raise invalid_input()
            return [faces[0].person]
        else:
            raise Refusal(462, "error", "Prompts get error. Please check the model_id.")
        persons = []
        for each in ids:
            model = self.service.ready_model(each, family, app_id)
            persons.append(model.person if model.person is not None else 0)
        return persons

    def _template(self, url: str) -> tuple[bytes, list[Face]]:
        try:
            data = self.service.fetch(url)
            width, height, faces = find_faces(data)
        except Exception as exc:  # unreachable, or not a picture
            raise Refusal(
                462, "error", "Template image decode error. Provide a new template"
            ) from exc
        if min(width, height) < MIN_SIDE:
            raise Refusal(462, "error", "Template image process error. Please Give a new template.")
        if not faces:
            raise Refusal(
                462, "error", "There is not face in template. Please Give a new template."
            )
        if any(face.touches_border for face in faces):
            raise Refusal(
                469, "error", "First Face Fusion Error, Can't get face in template image."
            )
        return data, faces
