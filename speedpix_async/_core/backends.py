"""Which HTTP backend a client uses (``http_backend=``, or ``SPEEDPIX_HTTP_BACKEND``).

* ``"auto"`` (the default) — native on asyncio, httpx otherwise; decided at the first request,
  so a client built outside any event loop decides correctly. It stays on httpx whenever httpx
  may be what the program means to use: an injected ``http_client=`` / ``transport=`` (those
  are httpx objects), another event loop (trio), or an httpx mocking library loaded in the
  process (respx, pytest-httpx) — a test's mocks must never be bypassed silently.
* ``"httpx"`` — the public injection point: ``http_client=``, ``transport=`` and respx all work
  on it, and it runs on any event loop anyio supports.
* ``"native"`` — the SDK's own HTTP/1.1 connections for API calls (files and proxied requests
  on aiohttp): the least client CPU per request, which is what bounds a wide fan-out
  (docs/performance.md, "Which backend by default"). asyncio only.
* ``"aiohttp"`` — everything on aiohttp: about a third of httpx's client CPU per request.
  asyncio only.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Mapping
from typing import Literal

import httpx

from .._errors import ConfigurationError
from .http import BeforeSend, ForwardsFiles, HttpBackend, Response, on_asyncio
from .httpx_backend import HttpxBackend, build_http_client

__all__ = [
    "BACKENDS",
    "ENV_HTTP_BACKEND",
    "HTTPX_MOCKERS",
    "HttpBackendName",
    "aiohttp_installed",
    "httpx_mocker_loaded",
    "open_backend",
]

HttpBackendName = Literal["auto", "httpx", "aiohttp", "native"]
BACKENDS: tuple[HttpBackendName, ...] = ("auto", "httpx", "aiohttp", "native")
_BY_NAME: dict[object, HttpBackendName] = {name: name for name in BACKENDS}
#: Chooses the backend of clients built without ``http_backend=``.
ENV_HTTP_BACKEND = "SPEEDPIX_HTTP_BACKEND"


@functools.cache
def aiohttp_installed() -> bool:
    return importlib.util.find_spec("aiohttp") is not None


#: Libraries that mock httpx by patching it: while one is loaded, "auto" keeps to httpx.
HTTPX_MOCKERS = ("respx", "pytest_httpx")


def httpx_mocker_loaded() -> str | None:
    """The name of a loaded httpx mocking library, if any. Loaded is enough: the mock may be
    started after the client decides, and choosing httpx costs a mocked test nothing."""
    return next((name for name in HTTPX_MOCKERS if name in sys.modules), None)


def _aiohttp(max_connections: int) -> HttpBackend:
    # Imported only when chosen: aiohttp is a large import.
    from .aiohttp_backend import AiohttpBackend

    return AiohttpBackend(max_connections=max_connections)


def _native(max_connections: int) -> HttpBackend:
    from .native_backend import NativeBackend

    return NativeBackend(max_connections=max_connections)


def _httpx(
    timeout: httpx.Timeout, max_connections: int, transport: httpx.AsyncBaseTransport | None
) -> HttpBackend:
    """An httpx client of our own. On our own pool, requests beyond its size queue in the
    backend's gate; an injected transport keeps its own limits (httpx applies none to it)."""
    client = build_http_client(
        timeout=timeout, max_connections=max_connections, transport=transport
    )
    gate = max_connections if transport is None else None
    # httpcore reports when a request's bytes go out; other transports (ASGI, mocks) do not.
    traced = transport is None or isinstance(transport, httpx.AsyncHTTPTransport)
    return HttpxBackend(client, owns_client=True, max_in_flight=gate, traced=traced)


class _Auto(ForwardsFiles):
    """native or httpx, decided at the first request: native on asyncio unless an httpx
    mocking library is loaded."""

    def __init__(self, *, timeout: httpx.Timeout, max_connections: int) -> None:
        self._timeout = timeout
        self._max_connections = max_connections
        self._chosen: HttpBackend | None = None

    def __repr__(self) -> str:
        return f"<auto HTTP backend: {self._chosen!r}>"

    @property
    def name(self) -> str:
        return "auto" if self._chosen is None else self._chosen.name

    def _files(self) -> HttpBackend:
        return self._backend()

    def _backend(self) -> HttpBackend:
        chosen = self._chosen
        if chosen is None:
            if on_asyncio() and httpx_mocker_loaded() is None:
                chosen = _native(self._max_connections)
            else:
                chosen = _httpx(self._timeout, self._max_connections, None)
            self._chosen = chosen
        return chosen

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: httpx.Timeout,
        limit: int,
        before_send: BeforeSend | None = None,
        within: float | None = None,
    ) -> Response:
        return await self._backend().request(
            method,
            url,
            headers=headers,
            content=content,
            timeout=timeout,
            limit=limit,
            before_send=before_send,
            within=within,
        )

    async def aclose(self) -> None:
        if self._chosen is not None:
            await self._chosen.aclose()


def _name(value: object) -> HttpBackendName:
    if value is None:
        value = os.environ.get(ENV_HTTP_BACKEND, "").strip().lower() or "auto"
        source = f"the {ENV_HTTP_BACKEND} environment variable"
    else:
        source = "http_backend"
    name = _BY_NAME.get(value)
    if name is None:
        raise ConfigurationError(
            f"{source} must be one of {', '.join(map(repr, BACKENDS))}, got {value!r}"
        )
    return name


def open_backend(
    http_backend: str | None,
    *,
    timeout: httpx.Timeout,
    max_connections: int,
    http_client: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> HttpBackend:
    """The backend a client sends through; raises :class:`ConfigurationError` for choices that
    cannot work together. An injected ``http_client`` / ``transport`` means httpx."""
    if http_client is not None and transport is not None:
        raise ConfigurationError(
            "pass either http_client= or transport=, not both (a transport belongs inside "
            "the http client you pass)"
        )
    if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
        raise ConfigurationError(
            f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}; "
            "the blocking clients build their own"
        )
    injected = http_client is not None or transport is not None
    # The environment's choice yields to httpx objects passed in code.
    name: HttpBackendName = "httpx" if injected and http_backend is None else _name(http_backend)
    if name in ("aiohttp", "native") and injected:
        raise ConfigurationError(
            "http_client= and transport= are httpx objects and need http_backend='httpx'; "
            f"drop them to use {name}"
        )
    if name in ("aiohttp", "native") and not aiohttp_installed():
        raise ConfigurationError(
            f"http_backend={name!r} needs aiohttp, which speedpix-async installs; it is missing "
            "from this environment: pip install aiohttp"
        )
    if name == "aiohttp":
        return _aiohttp(max_connections)
    if name == "native":
        return _native(max_connections)
    if name == "auto" and not injected and aiohttp_installed():
        return _Auto(timeout=timeout, max_connections=max_connections)
    if http_client is not None:
        return HttpxBackend(http_client, owns_client=False)
    return _httpx(timeout, max_connections, transport)
