"""An async web app on the SDK: product photos on a white background, and AI Portraits, with live
progress in the browser.

    python examples/webapp/app.py                 # with an embedded emulator: no account needed
    python examples/webapp/app.py --services      # the services named by the environment
    # then open http://127.0.0.1:8000 (--time-scale 0.05 makes the emulator's training quick)

What it shows:

* **One client per service for the app's lifetime** (the lifespan opens one ``AsyncSpeedPix`` and
  one ``AsyncPortrait``; every request shares their connection pools).
* **Live progress** as Server-Sent Events fed by the SDK's ``on_progress`` callbacks: status,
  percent and the server's ETA, then the result.
* **A browser that leaves cancels the server-side wait** (Starlette cancels the event stream);
  the task keeps running on the server — the API cannot cancel it — and its id is logged so the
  page (or anyone) can resume it with the same URL.
* **Errors as readable messages**: a typed SDK error becomes a JSON answer with a fitting HTTP
  status (:func:`error_answer`), never a stack trace.

Needs the ``emulator`` extra (Starlette, uvicorn): ``pip install 'speedpix-async[emulator]'``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from speedpix_async import (
    APITimeoutError,
    AsyncPortrait,
    AsyncSpeedPix,
    AuthenticationError,
    BadRequestError,
    InputError,
    Job,
    NotFoundError,
    PermissionDeniedError,
    PortraitNotFoundError,
    PortraitTimeoutError,
    Prediction,
    PredictionTimeoutError,
    Progress,
    QuotaExceededError,
    RateLimitError,
    SpeedPixError,
)

log = logging.getLogger("webapp")
R = TypeVar("R")
T = TypeVar("T")
HERE = Path(__file__).parent
#: The largest photo the upload endpoint accepts.
MAX_PHOTO = 20 << 20

# ---------------------------------------------------------------------------- errors


def status_for(error: SpeedPixError) -> int:
    """The HTTP status our own API answers for an SDK error."""
    if isinstance(error, (InputError, BadRequestError)):
        return 400  # the browser sent something unusable
    if isinstance(error, (NotFoundError, PortraitNotFoundError)):
        return 404
    if isinstance(error, (RateLimitError, QuotaExceededError)):
        return 429
    if isinstance(error, (APITimeoutError, PredictionTimeoutError, PortraitTimeoutError)):
        return 504
    if isinstance(error, (AuthenticationError, PermissionDeniedError)):
        log.error("the app's credentials were refused: %s", error)
        return 502  # our configuration, not the user's fault: say little
    return 502


def error_answer(request: Request, exc: Exception) -> Response:
    """Starlette's handler for SDK errors: the message, the error's type, a fitting status."""
    assert isinstance(exc, SpeedPixError)
    return JSONResponse(
        {"error": str(exc), "type": type(exc).__name__}, status_code=status_for(exc)
    )


# ---------------------------------------------------------------------------- event streams


def event(name: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class EventStream(Generic[R, T]):
    """An ASGI response that runs ``wait(on_progress)`` for as long as the browser listens, and
    streams its reports (``describe(report)``) as ``progress`` events, then ``done`` with
    ``finish(result)`` — or ``failed`` with a readable message.

    The wait and the watch for the browser's disconnect run in one task group: when the
    browser goes away the wait is cancelled (nothing polls for a page nobody reads), and the
    log says what keeps running on the server and how to follow it again. (A generator that
    yields from inside a task group would be closed, on disconnect, by another task.)"""

    def __init__(
        self,
        wait: Callable[[Callable[[R], Awaitable[None]]], Awaitable[T]],
        describe: Callable[[R], dict[str, Any]],
        finish: Callable[[T], Awaitable[dict[str, Any]]],
        what: str,
    ) -> None:
        self.wait, self.describe, self.finish, self.what = wait, describe, finish, what

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def emit(name: str, data: dict[str, Any]) -> None:
            await send(
                {
                    "type": "http.response.body",
                    "body": event(name, data).encode(),
                    "more_body": True,
                }
            )

        async def report(progress: R) -> None:
            await emit("progress", self.describe(progress))

        left = False
        async with anyio.create_task_group() as group:

            async def watch_the_browser() -> None:
                nonlocal left
                while (await receive())["type"] != "http.disconnect":
                    pass
                left = True
                group.cancel_scope.cancel()

            group.start_soon(watch_the_browser)
            try:
                result = await self.wait(report)
                await emit("done", await self.finish(result))
            except SpeedPixError as exc:
                await emit("failed", {"error": str(exc), "type": type(exc).__name__})
            group.cancel_scope.cancel()
        if left:
            log.info(
                "the browser left: stopped waiting for %s, which keeps running on the server; "
                "follow it again at %s",
                self.what,
                scope["path"],
            )
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def task_report(report: Progress) -> dict[str, Any]:
    return {
        "status": str(report.status),
        "percent": round(report.percent, 1),
        "eta": report.eta,
        "queue_position": report.queue_position,
    }


def job_report(job: Job) -> dict[str, Any]:
    return {"status": job.status, "percent": job.percent, "message": job.message}


# ---------------------------------------------------------------------------- SpeedPix


async def start_white_background(request: Request) -> Response:
    """The page POSTs the photo's bytes (``?text=`` the caption); we upload it and submit."""
    speedpix: AsyncSpeedPix = request.app.state.speedpix
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_PHOTO:
        raise InputError(f"the photo is larger than {MAX_PHOTO >> 20} MiB; send a smaller one")
    photo = await request.body()
    if not photo:
        raise InputError("no photo was sent; choose a picture first")
    uploaded = await speedpix.files.create(
        photo, filename=request.query_params.get("name") or "photo"
    )
    handle = await speedpix.predictions.create(
        "wf-white-background",
        {"image": uploaded.access_url, "text": request.query_params.get("text", "")},
    )
    log.info("task %s submitted", handle.id)
    return JSONResponse({"task_id": handle.id}, status_code=202)


async def white_background_events(request: Request) -> EventStream[Progress, Prediction]:
    speedpix: AsyncSpeedPix = request.app.state.speedpix
    task_id = request.path_params["task_id"]

    async def wait(on_progress: Callable[[Progress], Awaitable[None]]) -> Prediction:
        return await speedpix.predictions.wait(task_id, on_progress=on_progress)

    async def finish(final: Prediction) -> dict[str, Any]:
        image = final.output["images"]
        # Presigned URLs are meant to be fetched directly: the browser loads it from the store.
        return {"image": str(image["url"]), "width": image["width"], "height": image["height"]}

    return EventStream(wait, task_report, finish, f"task {task_id}")


# ---------------------------------------------------------------------------- AI Portrait


async def portrait_samples(request: Request) -> Response:
    """Photos and templates to try (the embedded emulator's samples; none for real services)."""
    base: str | None = request.app.state.samples
    if base is None:
        return JSONResponse({"photos": [], "template": ""})
    photos = [f"{base}/_emulator/samples/portrait-0-{n}.png" for n in range(3)]
    return JSONResponse({"photos": photos, "template": f"{base}/_emulator/samples/template-1.png"})


async def portrait_check(request: Request) -> Response:
    portrait: AsyncPortrait = request.app.state.portrait
    photos = (await request.json()).get("photos") or []
    results = await portrait.check_images(photos)
    return JSONResponse(
        [{"url": r.url, "ok": r.ok, "meaning": r.meaning, "message": r.message} for r in results]
    )


async def portrait_train(request: Request) -> Response:
    portrait: AsyncPortrait = request.app.state.portrait
    photos = (await request.json()).get("photos") or []
    handle = await portrait.train(photos)
    log.info("training job %s started", handle.job_id)
    return JSONResponse({"job_id": handle.job_id}, status_code=202)


async def portrait_job_events(request: Request) -> EventStream[Job, Job]:
    portrait: AsyncPortrait = request.app.state.portrait
    job_id = int(request.path_params["job_id"])

    async def wait(on_progress: Callable[[Job], Awaitable[None]]) -> Job:
        return await portrait.jobs.wait(job_id, on_progress=on_progress)

    async def finish(job: Job) -> dict[str, Any]:
        return {"model_id": job.model_id}

    return EventStream(wait, job_report, finish, f"training job {job_id}")


async def portrait_create(request: Request) -> Response:
    portrait: AsyncPortrait = request.app.state.portrait
    asked = await request.json()
    image = await portrait.create(asked.get("template"), model_id=asked.get("model_id"))
    data = base64.b64encode(image.data).decode("ascii")
    return JSONResponse({"image": f"data:image/{image.format};base64,{data}"})


# ---------------------------------------------------------------------------- the app


def page(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return FileResponse(HERE / "static" / name)

    return endpoint


def create_app(
    *,
    speedpix: dict[str, Any] | None = None,
    portrait: dict[str, Any] | None = None,
    samples: str | None = None,
) -> Starlette:
    """The app. ``speedpix`` / ``portrait``: the clients' arguments (default: the environment);
    ``samples``: an emulator's base URL whose sample photos the Portrait page offers."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # One client per service, for every request of the app's life: one pool each.
        async with AsyncSpeedPix(**(speedpix or {})) as sp, AsyncPortrait(**(portrait or {})) as pt:
            app.state.speedpix, app.state.portrait, app.state.samples = sp, pt, samples
            yield

    routes = [
        Route("/", page("index.html")),
        Route("/portrait", page("portrait.html")),
        Route("/api/white-background", start_white_background, methods=["POST"]),
        Route("/api/white-background/{task_id}/events", white_background_events),
        Route("/api/portrait/samples", portrait_samples),
        Route("/api/portrait/check", portrait_check, methods=["POST"]),
        Route("/api/portrait/train", portrait_train, methods=["POST"]),
        Route("/api/portrait/jobs/{job_id:int}/events", portrait_job_events),
        Route("/api/portrait/create", portrait_create, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static")),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={SpeedPixError: error_answer},
    )


@contextlib.contextmanager
def embedded_emulator(time_scale: float) -> Iterator[tuple[dict[str, Any], dict[str, Any], str]]:
    """An emulator on a loopback port and the clients' arguments for it."""
    from speedpix_async.emulator import Emulator

    emulator = Emulator(time_scale=time_scale)
    with emulator.serve() as server:
        speedpix = {
            "app_key": emulator.app_key,
            "app_secret": emulator.app_secret,
            "endpoint": server.endpoint,
        }
        portrait = {
            "host": server.endpoint,
            "app_id": emulator.portrait_app_id,
            "token": emulator.portrait_token,
        }
        yield speedpix, portrait, server.endpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="0: any free port"
    )
    parser.add_argument(
        "--services",
        action="store_true",
        help="use the services named by SPEEDPIX_* / PAI_PORTRAIT_* instead of an emulator",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="the embedded emulator's time scale (0.05: a training takes seconds, not minutes)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("speedpix_async.emulator").setLevel(logging.WARNING)
    with contextlib.ExitStack() as stack:
        if args.services:
            app = create_app()
        else:
            speedpix, portrait, samples = stack.enter_context(embedded_emulator(args.time_scale))
            app = create_app(speedpix=speedpix, portrait=portrait, samples=samples)
        listening = stack.enter_context(socket.create_server((args.host, args.port)))
        host, port = listening.getsockname()[:2]
        print(f"open http://{host}:{port}", flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        server.run(sockets=[listening])


if __name__ == "__main__":
    main()
