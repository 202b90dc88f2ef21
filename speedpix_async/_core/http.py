"""HTTP for the core: the small interface every request goes through, and what every backend
shares — the TLS context, and the typed errors a failed exchange becomes.

Three backends implement it: :mod:`.httpx_backend` (the public injection point:
``http_client=``, ``transport=``, respx in tests; any event loop), :mod:`.native_backend` (the
SDK's own HTTP/1.1 connections for API calls; the default on asyncio) and
:mod:`.aiohttp_backend`. :mod:`.backends` chooses between them. Either way a backend turns
transport failures into :class:`~speedpix_async.APIConnectionError` /
:class:`~speedpix_async.APITimeoutError` with ``request_sent`` set from what the failure proves,
reads answers under a size cap, inflates compressed bodies itself (:mod:`.decoding`), and never
shows a URL's query string (signed URLs carry credentials there).
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

import anyio
import attrs
import httpx

from .._errors import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    ConfigurationError,
    InputError,
    ResponseValidationError,
)
from .._redact import redact_text
from .concurrency import asyncio_loop

T = TypeVar("T")

__all__ = [
    "Answer",
    "BeforeSend",
    "BeforeSendFailed",
    "ForwardsFiles",
    "HttpBackend",
    "HttpLibraryError",
    "OutOfTime",
    "Response",
    "StreamResponse",
    "bounded",
    "check_header_values",
    "client_closed",
    "connection_lost",
    "could_not_connect",
    "detached",
    "firing_once",
    "garbled",
    "log_exchange",
    "no_connection_in_time",
    "on_asyncio",
    "refused_locally",
    "timed_out",
    "tls_context",
    "too_large",
    "wrong_scheme",
]


BeforeSend = Callable[[], Awaitable[None]]
"""Awaited once a request's connection is ready, just before its first byte is written (a
batch journal records a submit there, so that "may have reached the server" is as narrow as
it can be). If it raises, nothing was sent and the error propagates as itself."""


class BeforeSendFailed(Exception):
    """Internal to the backends: a ``before_send`` hook raised (``error``) from inside the HTTP
    library, which must not mistake it for a network failure."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def firing_once(before_send: BeforeSend) -> BeforeSend:
    """``before_send`` for an HTTP library's hook: awaited at most once (a library may report
    several connection events for one request), its errors wrapped in
    :class:`BeforeSendFailed`."""
    fired = False

    async def fire() -> None:
        nonlocal fired
        if not fired:
            fired = True
            try:
                await before_send()
            except Exception as exc:
                raise BeforeSendFailed(exc) from exc

    return fire


class Response(Protocol):
    """A complete HTTP response: status, headers (looked up case-insensitively) and body.

    ``httpx.Response`` is one as it is; other backends supply a small object of their own.
    """

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...


@attrs.frozen
class Answer:
    """A complete response as a backend hands it over: its body read under a cap."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes = attrs.field(repr=False)


class StreamResponse(Protocol):
    """A response whose body is read on demand (downloads)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def aread(self, limit: int) -> bytes:
        """The whole (small) body, e.g. an error document, refused past ``limit`` bytes."""
        ...

    def aiter_bytes(self, chunk_size: int) -> AsyncIterator[bytes]:
        """The body in chunks; a connection lost mid-body raises ``APIConnectionError``."""
        ...


class HttpBackend(Protocol):
    """Sends requests for the core. One per client pool; ``aclose`` releases it."""

    @property
    def name(self) -> str:
        """``"httpx"``, ``"native"`` or ``"aiohttp"`` (shown by benchmarks and ``--debug``)."""
        ...

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
        """Send a request with a small body and read the whole answer — at most ``limit``
        bytes once decoded, else :class:`~speedpix_async.ResponseValidationError` with
        ``over_limit`` set. ``before_send``: see :data:`BeforeSend` (awaited at most once).
        ``within``: seconds the whole request may take (what is left of the call's deadline;
        None: no bound); past them, :class:`OutOfTime`."""
        ...

    async def upload(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: AsyncIterable[bytes],
        timeout: httpx.Timeout,
        limit: int,
    ) -> Response:
        """Send a streamed body (``headers`` carry its ``content-length``); read the answer
        as :meth:`request` does."""
        ...

    def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: httpx.Timeout
    ) -> AbstractAsyncContextManager[StreamResponse]:
        """Send a request and hand over the response before its body is read."""
        ...

    async def aclose(self) -> None: ...


class ForwardsFiles:
    """``upload`` and ``stream`` handed on to the backend :meth:`_files` returns: for a backend
    that chooses another (``"auto"``), or keeps file transfers on another library (native)."""

    def _files(self) -> HttpBackend:
        raise NotImplementedError

    async def upload(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: AsyncIterable[bytes],
        timeout: httpx.Timeout,
        limit: int,
    ) -> Response:
        return await self._files().upload(
            method, url, headers=headers, body=body, timeout=timeout, limit=limit
        )

    def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: httpx.Timeout
    ) -> AbstractAsyncContextManager[StreamResponse]:
        return self._files().stream(method, url, headers=headers, timeout=timeout)


class OutOfTime(Exception):
    """A request ran out of its ``within`` (the call's deadline). ``request_sent``: whether
    its bytes may be on the wire (so a non-idempotent call may have been processed)."""

    def __init__(self, *, request_sent: bool) -> None:
        super().__init__("the call's deadline passed")
        self.request_sent = request_sent


async def bounded(within: float | None, request: Awaitable[T]) -> T:
    """``await request``, ended after ``within`` seconds (None: not bounded) with
    :class:`OutOfTime`: for backends whose library cannot bound a whole request itself. The
    cut may come once the request's bytes are out, so it counts as sent."""
    if within is None:
        return await request
    with anyio.move_on_after(within):
        return await request
    raise OutOfTime(request_sent=True)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context every pool of this process shares (both backends), built on first use.

    Building one loads the CA bundle — 20 to 100 ms of blocking work, which in async code
    stalls the event loop — so it is done once per process, not once per client. It is made
    the way httpx makes its default (certifi's CAs, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured
    as read at that first use); verification stays on.
    """
    return httpx.create_ssl_context()


def on_asyncio() -> bool:
    """Whether the running event loop is asyncio's (aiohttp runs on nothing else)."""
    return asyncio_loop() is not None


#: The SDK's logger (``SPEEDPIX_LOG=info`` shows the exchange lines below).
log = logging.getLogger("speedpix_async")


def log_exchange(
    method: str, url: str, status: int, started: float, ended: float, detail: str = ""
) -> None:
    """One INFO line per HTTP exchange, the same on every backend (no HTTP library's own log is
    needed): ``POST https://host/scc/comfy_prompt -> 200 in 12.3 ms``. ``url`` must already be
    safe to show (no query); ``started``/``ended`` are monotonic seconds."""
    if log.isEnabledFor(logging.INFO):
        suffix = f" ({detail})" if detail else ""
        log.info(
            "%s %s -> %d in %.1f ms%s", method, url, status, (ended - started) * 1000.0, suffix
        )


def check_header_values(headers: Mapping[str, str]) -> None:
    """Refuse, with ``ValueError``, what httpx refuses before anything is sent: header values
    must be visible ASCII (aiohttp would send UTF-8 and only stops line breaks)."""
    values = "".join(headers.values())
    if values.isascii() and values.isprintable():
        return
    for name, value in headers.items():
        if not (value.isascii() and value.isprintable()):
            raise ValueError(f"header {name!r} has a value that is not visible ASCII")


# ------------------------------------------------------------------------ typed failures

E = TypeVar("E", bound=BaseException)


class HttpLibraryError(Exception):
    """Stands in, as the ``__cause__`` of our typed errors, for an HTTP library's own exception:
    its type and message (URL queries hidden) without its attributes. httpx's exceptions hold
    the request — with a fresh ``x-ca-signature`` and nonce (replayable for minutes) or AI
    Portrait's ``Authorization`` HMAC (which covers no time at all) — and aiohttp's response
    errors the request's headers; no error the SDK raises may keep those."""


def detached(error: E, exc: BaseException) -> E:
    """``error`` whose cause is a clean stand-in for ``exc``. Raise it *after* the ``except``
    block that caught ``exc``: raised inside it, Python would record ``exc`` itself as the
    error's ``__context__``."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    error.__cause__ = HttpLibraryError(f"{name}: {redact_text(str(exc)) or 'no detail'}")
    error.__suppress_context__ = True
    return error


def client_closed() -> ClientClosedError:
    return ClientClosedError(
        "this client is closed; create a new client (or keep using it inside its "
        "'async with' block)"
    )


def timed_out(method: str, url: str, phase: str, *, sent: bool) -> APITimeoutError:
    """A timeout while ``phase`` ("connecting", "waiting for the response", …)."""
    return APITimeoutError(
        f"timed out {phase} ({method} {url}); raise timeout= if the server is slow",
        method=method,
        url=url,
        request_sent=sent,
    )


def no_connection_in_time(method: str, url: str) -> APITimeoutError:
    """No connection was free, or none could be made, in time: nothing was sent (for backends
    whose pool and connect timeouts are one failure)."""
    return timed_out(method, url, "connecting or waiting for a free connection", sent=False)


def could_not_connect(method: str, url: str, exc: BaseException) -> APIConnectionError:
    """No connection could be made: the request was certainly not sent."""
    detail = redact_text(str(exc)) or type(exc).__name__
    return APIConnectionError(
        f"could not connect to {url} ({detail}); check the endpoint and the network",
        method=method,
        url=url,
        request_sent=False,
    )


def connection_lost(method: str, url: str, exc: BaseException) -> APIConnectionError:
    """The connection failed after the request may have been sent."""
    return APIConnectionError(
        f"the connection failed during {method} {url} ({type(exc).__name__}: "
        f"{redact_text(str(exc)) or 'no detail'})",
        method=method,
        url=url,
        request_sent=True,
    )


def wrong_scheme(url: str, exc: BaseException) -> ConfigurationError:
    return ConfigurationError(
        f"cannot send to {url}: {redact_text(str(exc))}; the endpoint must start with http:// "
        "or https://"
    )


def refused_locally(method: str, url: str, exc: Exception) -> InputError:
    """The HTTP library refused to send a request (a header or body it cannot put on the
    wire): nothing reached the server, and another attempt would be refused the same way."""
    return InputError(
        f"the request {method} {url} was refused before sending, nothing was sent "
        f"({type(exc).__name__}: {redact_text(str(exc)) or 'no detail'}); header values must "
        "be visible ASCII, and a body must match its declared length"
    )


def too_large(status_code: int, method: str, url: str, limit: int) -> ResponseValidationError:
    return ResponseValidationError(
        f"the response body is larger than {limit:,} bytes, the most this client reads for "
        "an API answer; the endpoint is not behaving like the API",
        over_limit=True,
        status_code=status_code,
        method=method,
        url=url,
    )


def garbled(status_code: int, method: str, url: str, exc: Exception) -> ResponseValidationError:
    return ResponseValidationError(
        f"the response body could not be decompressed ({exc})",
        incomplete=True,
        status_code=status_code,
        method=method,
        url=url,
    )
