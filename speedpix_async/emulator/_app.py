"""The emulator: one object owning the ASGI app, its state and its helpers."""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ._faults import FAULT_KINDS, PROMPT_ROUTE, SLOW_SECONDS, EmulatedReset, FaultInjector
from ._gateway import GatewayAuth
from ._log import RequestLog
from ._requests import is_loopback
from ._server import AppServer
from ._stats import Stats
from ._store import SAMPLES_PREFIX, ObjectStore
from .portrait.api import CREATE_ROUTE, TRAIN_ROUTE, PortraitApi
from .portrait.samples import sample_picture
from .portrait.service import PortraitService
from .speedpix.api import SpeedPixApi
from .speedpix.images import register_image_workflows
from .speedpix.tasks import EstimateError, TaskStore
from .speedpix.workflows import Duration, Handler, Validator, builtin_registry

if TYPE_CHECKING:
    from ..portrait.client import AsyncPortrait
    from ..speedpix.client import AsyncSpeedPix

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "DEFAULT_PORTRAIT_APP_ID",
    "DEFAULT_PORTRAIT_TOKEN",
    "IN_PROCESS_ENDPOINT",
    "Emulator",
    "LoopbackServer",
]

DEFAULT_APP_KEY = "demo-app-key"
DEFAULT_APP_SECRET = "demo-app-secret"
DEFAULT_PORTRAIT_APP_ID = "demo-portrait-app-id"
DEFAULT_PORTRAIT_TOKEN = "demo-portrait-token"
#: The base URL in-process clients use; ASGITransport routes every host to the app.
IN_PROCESS_ENDPOINT = "http://speedpix-emulator.local"

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class _InProcessTransport(httpx.ASGITransport):
    """ASGITransport, plus the one thing a socket does that it cannot: a ``reset`` fault
    surfaces as the connection error a real client would see."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except EmulatedReset as exc:
            raise httpx.ReadError(
                "connection reset by peer (emulated fault)", request=request
            ) from exc


class _Dispatch:
    """The emulator's ASGI entry: the SpeedPix API's own paths go straight to its endpoint, the
    rest through the Starlette router. Those paths are what a fan-out sends thousands of times,
    and the router's pattern matching and middleware layers cost more than the endpoint's own
    work (benchmarks/emulator_routes.py). Failures are answered as Starlette's would be."""

    def __init__(self, api: SpeedPixApi, router: Starlette) -> None:
        self._api = api
        self._router = router

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in self._api.routes:
            await self._router(scope, receive, send)
            return
        try:
            response = await self._api.handle(Request(scope, receive))
        except Exception:
            # As Starlette's ServerErrorMiddleware: a 500, and the error goes on to the server
            # (which logs it). A failure while the answer is sent (a reset fault) just goes on.
            await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise
        await response(scope, receive, send)


def _check_capacity(capacity: int | Mapping[str, int] | None) -> None:
    numbers = (
        []
        if capacity is None
        else [capacity]
        if isinstance(capacity, int)
        else list(capacity.values())
    )
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in numbers):
        raise ValueError(
            f"capacity must be a whole number of tasks >= 1 per pool, got {capacity!r}"
        )


class Emulator:
    """A local SpeedPix and AI Portrait service: signature checks, workflows and tasks,
    photo checks, training jobs and portraits, faults, stats.

    In-process (no sockets)::

        emulator = Emulator()
        async with emulator.client() as client:
            await client.run("wf-echo", {"hello": "world"})
        async with emulator.portrait_client() as portrait:
            print(await portrait.check_images([emulator.sample_url("portrait-0-1.png")]))

    Over a real loopback socket::

        with emulator.serve() as server:
            client = AsyncSpeedPix(endpoint=server.endpoint, app_key=..., app_secret=...)
    """

    def __init__(
        self,
        *,
        app_key: str = DEFAULT_APP_KEY,
        app_secret: str = DEFAULT_APP_SECRET,
        extra_credentials: Mapping[str, str] | None = None,
        time_scale: float = 1.0,
        clock_skew: float = 0.0,
        storage_dir: str | os.PathLike[str] | None = None,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] = FAULT_KINDS,
        fault_seed: int | None = None,
        slow_seconds: float = SLOW_SECONDS,
        throttle_status: int = 403,
        portrait_app_id: str = DEFAULT_PORTRAIT_APP_ID,
        portrait_token: str = DEFAULT_PORTRAIT_TOKEN,
        portrait_sdxl: bool = True,
        portrait_quota: int | None = None,
        extra_portrait_credentials: Mapping[str, str] | None = None,
        capacity: int | Mapping[str, int] | None = None,
        estimate_bias: float = 0.0,
        estimate_noise: float = 0.0,
        estimate_seed: int | None = None,
    ) -> None:
        if time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale}")
        _check_capacity(capacity)
        self.app_key = app_key
        self.app_secret = app_secret
        self.portrait_app_id = portrait_app_id
        self.portrait_token = portrait_token
        self._time_scale = time_scale
        self.clock_skew = clock_skew
        self.stats = Stats()
        self.gateway = GatewayAuth(
            {app_key: app_secret, **(extra_credentials or {})}, clock=self.clock
        )
        self.store = ObjectStore(clock=self.clock, stats=self.stats, root=storage_dir)
        # Uploaded and generated files live in a temporary directory removed with the emulator.
        self._finalizer = weakref.finalize(self, self.store.close)
        self.workflows = builtin_registry()
        register_image_workflows(self.workflows)
        self.tasks = TaskStore(
            clock=self.clock,
            time_scale=time_scale,
            store=self.store,
            capacity=capacity,
            estimates=EstimateError(bias=estimate_bias, noise=estimate_noise, seed=estimate_seed),
        )
        self.faults = FaultInjector(
            self.stats,
            rate=fault_rate,
            kinds=fault_kinds,
            seed=fault_seed,
            slow_seconds=slow_seconds,
            throttle_status=throttle_status,
            after_routes=(PROMPT_ROUTE, TRAIN_ROUTE, CREATE_ROUTE),
        )
        """Fault injection: ``configure(rate=..., kinds=...)``, ``script(kind, route=...)``."""
        self.store.faults = self.faults
        self.store.samples = sample_picture
        self.portrait = PortraitService(
            clock=self.clock, time_scale=time_scale, fetch=self.store.read_url
        )
        """AI Portrait jobs and models (``corrupt_model(model_id)``, ``jobs_created``)."""
        self.portrait_api = PortraitApi(
            service=self.portrait,
            credentials={portrait_app_id: portrait_token, **(extra_portrait_credentials or {})},
            stats=self.stats,
            faults=self.faults,
            clock=self.clock,
            time_scale=time_scale,
            sdxl=portrait_sdxl,
            quota=portrait_quota,
        )
        self.api = SpeedPixApi(
            gateway=self.gateway,
            tasks=self.tasks,
            workflows=self.workflows,
            store=self.store,
            faults=self.faults,
            stats=self.stats,
            clock=self.clock,
        )
        self.routes = Starlette(
            routes=[
                Route("/_emulator/stats", self._stats_endpoint, methods=["GET"]),
                Route("/_emulator/reset", self._reset_endpoint, methods=["POST"]),
                Route("/_emulator/health", self._health_endpoint, methods=["GET"]),
                Route("/_emulator/samples/{name}", self._sample_endpoint, methods=["GET"]),
                Route("/_store/{key:path}", self.store.handle, methods=["GET", "HEAD", "PUT"]),
                Route("/api/v1/{rest:path}", self.portrait_api.handle, methods=_ALL_METHODS),
                Route(
                    "//api/v1/{rest:path}", self.portrait_api.doubled_slash, methods=_ALL_METHODS
                ),
                Route("/{path:path}", self.api.handle, methods=_ALL_METHODS),
            ]
        )
        self.app = RequestLog(_Dispatch(self.api, self.routes))
        """The ASGI application (for ``httpx.ASGITransport``, uvicorn…)."""

    def __repr__(self) -> str:
        return f"Emulator(app_key={self.app_key!r}, time_scale={self.time_scale})"

    @property
    def time_scale(self) -> float:
        """What every duration is multiplied by — SpeedPix tasks, AI Portrait training and
        portrait creation alike. Set it at any time; work submitted afterwards follows it
        (``emulator.time_scale = 0.01`` in a test makes a 60 s training take 0.6 s)."""
        return self._time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"time_scale must be a number >= 0, got {value!r}")
        self._time_scale = float(value)
        self.tasks.time_scale = self.portrait.time_scale = self.portrait_api.time_scale = value

    def close(self) -> None:
        """Delete the files the emulator stored. Also happens when it is garbage-collected."""
        self._finalizer()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def clock(self) -> float:
        """The emulator's wall clock (``clock_skew`` seconds ahead of this machine's)."""
        return time.time() + self.clock_skew

    def register_workflow(
        self,
        workflow_id: str,
        handler: Handler,
        *,
        duration: Duration = 1.0,
        validate: Validator | None = None,
        version: str = "v1",
        aliases: Mapping[str, str] | None = None,
        queue_seconds: float = 0.2,
    ) -> None:
        """Publish a workflow backed by ``handler(inputs, ctx)`` (plain or async), which returns
        the custom output fields. ``duration`` is seconds (or a function of the inputs) before
        ``time_scale``. Raise :class:`~speedpix_async.emulator.WorkflowFailure` to fail."""
        self.workflows.register(
            workflow_id,
            handler,
            duration=duration,
            validate=validate,
            version=version,
            aliases=aliases,
            queue_seconds=queue_seconds,
        )

    # ------------------------------------------------------------------ helpers for clients

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that calls the app in-process (no sockets)."""
        return _InProcessTransport(self.app)

    def client(self, **kwargs: Any) -> AsyncSpeedPix:
        """An :class:`AsyncSpeedPix` wired to this emulator in-process, with its credentials.
        Keyword arguments are passed to the client (e.g. ``max_retries=0``)."""
        # Imported here: the emulator never imports client code when it is imported itself.
        from ..speedpix.client import AsyncSpeedPix

        kwargs.setdefault("app_key", self.app_key)
        kwargs.setdefault("app_secret", self.app_secret)
        kwargs.setdefault("endpoint", IN_PROCESS_ENDPOINT)
        if "http_client" not in kwargs:
            kwargs.setdefault("transport", self.transport())
        return AsyncSpeedPix(**kwargs)

    def portrait_client(self, **kwargs: Any) -> AsyncPortrait:
        """An :class:`AsyncPortrait` wired to this emulator in-process, with its credentials."""
        from ..portrait.client import AsyncPortrait

        kwargs.setdefault("app_id", self.portrait_app_id)
        kwargs.setdefault("token", self.portrait_token)
        kwargs.setdefault("host", IN_PROCESS_ENDPOINT)
        if "http_client" not in kwargs:
            kwargs.setdefault("transport", self.transport())
        return AsyncPortrait(**kwargs)

    def sample_url(self, name: str, base_url: str = IN_PROCESS_ENDPOINT) -> str:
        """The URL of a sample picture (see ``/_emulator/samples``): ``portrait-<person>-<n>``,
        ``template-<faces>``, ``scene-<n>`` with ``.png`` or ``.jpg``."""
        if sample_picture(name) is None:
            raise ValueError(f"no sample picture named {name!r}")
        return f"{base_url.rstrip('/')}{SAMPLES_PREFIX}{name}"

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> LoopbackServer:
        """A context manager running this emulator on a real socket in a background thread."""
        return LoopbackServer(self, host=host, port=port)

    # ------------------------------------------------------------------ control endpoints

    async def _sample_endpoint(self, request: Request) -> Response:
        found = sample_picture(request.path_params["name"])
        if found is None:
            return JSONResponse({"error": "no such sample picture"}, status_code=404)
        return Response(found[0], media_type=found[1])

    async def _stats_endpoint(self, request: Request) -> Response:
        if not is_loopback(request):
            return JSONResponse(
                {"error": "stats are only served to loopback clients"}, status_code=403
            )
        return JSONResponse(self.stats.snapshot())

    async def _reset_endpoint(self, request: Request) -> Response:
        if not is_loopback(request):
            return JSONResponse({"error": "only loopback clients may reset stats"}, status_code=403)
        self.stats.reset()
        return JSONResponse({"reset": True})

    async def _health_endpoint(self, request: Request) -> Response:
        return JSONResponse(
            {"ok": True, "workflows": self.workflows.ids(), "tasks": len(self.tasks)}
        )


class LoopbackServer(AppServer):
    """An :class:`Emulator` served on a real loopback socket from a daemon thread. Use as a
    context manager; ``endpoint`` is its base URL once started."""

    def __init__(self, emulator: Emulator, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(emulator.app, host=host, port=port)
        self.emulator = emulator

    def client(self, **kwargs: Any) -> AsyncSpeedPix:
        """An :class:`AsyncSpeedPix` that talks to this server over the socket."""
        # Imported here: the emulator never imports client code when it is imported itself.
        from ..speedpix.client import AsyncSpeedPix

        kwargs.setdefault("app_key", self.emulator.app_key)
        kwargs.setdefault("app_secret", self.emulator.app_secret)
        kwargs.setdefault("endpoint", self.endpoint)
        return AsyncSpeedPix(**kwargs)

    def portrait_client(self, **kwargs: Any) -> AsyncPortrait:
        """An :class:`AsyncPortrait` that talks to this server over the socket."""
        from ..portrait.client import AsyncPortrait

        kwargs.setdefault("app_id", self.emulator.portrait_app_id)
        kwargs.setdefault("token", self.emulator.portrait_token)
        kwargs.setdefault("host", self.endpoint)
        return AsyncPortrait(**kwargs)

    def sample_url(self, name: str) -> str:
        """The URL of a sample picture on this server."""
        return self.emulator.sample_url(name, self.endpoint)
