"""The emulator: one object owning the ASGI app, its state and its helpers."""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._faults import FAULT_KINDS, SLOW_SECONDS, EmulatedReset, FaultInjector
from ._gateway import GatewayAuth
from ._requests import is_loopback
from ._server import AppServer
from ._stats import Stats
from ._store import ObjectStore
from .speedpix.api import SpeedPixApi
from .speedpix.images import register_image_workflows
from .speedpix.tasks import TaskStore
from .speedpix.workflows import Duration, Handler, Validator, builtin_registry

if TYPE_CHECKING:
    from ..speedpix.client import AsyncSpeedPix

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "IN_PROCESS_ENDPOINT",
    "Emulator",
    "LoopbackServer",
]

DEFAULT_APP_KEY = "demo-app-key"
DEFAULT_APP_SECRET = "demo-app-secret"
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


class Emulator:
    """A local SpeedPix service: gateway signature checks, workflows, tasks, stats.

    In-process (no sockets)::

        emulator = Emulator()
        async with emulator.client() as client:
            await client.run("wf-echo", {"hello": "world"})

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
    ) -> None:
        if time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale}")
        self.app_key = app_key
        self.app_secret = app_secret
        self.time_scale = time_scale
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
        self.tasks = TaskStore(clock=self.clock, time_scale=time_scale, store=self.store)
        self.faults = FaultInjector(
            self.stats,
            rate=fault_rate,
            kinds=fault_kinds,
            seed=fault_seed,
            slow_seconds=slow_seconds,
            throttle_status=throttle_status,
        )
        """Fault injection: ``configure(rate=..., kinds=...)``, ``script(kind, route=...)``."""
        self.store.faults = self.faults
        self.api = SpeedPixApi(
            gateway=self.gateway,
            tasks=self.tasks,
            workflows=self.workflows,
            store=self.store,
            faults=self.faults,
            stats=self.stats,
            clock=self.clock,
        )
        self.app = Starlette(
            routes=[
                Route("/_emulator/stats", self._stats_endpoint, methods=["GET"]),
                Route("/_emulator/reset", self._reset_endpoint, methods=["POST"]),
                Route("/_emulator/health", self._health_endpoint, methods=["GET"]),
                Route("/_store/{key:path}", self.store.handle, methods=["GET", "HEAD", "PUT"]),
                Route("/{path:path}", self.api.handle, methods=_ALL_METHODS),
            ]
        )

    def __repr__(self) -> str:
        return f"Emulator(app_key={self.app_key!r}, time_scale={self.time_scale})"

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

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> LoopbackServer:
        """A context manager running this emulator on a real socket in a background thread."""
        return LoopbackServer(self, host=host, port=port)

    # ------------------------------------------------------------------ control endpoints

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
