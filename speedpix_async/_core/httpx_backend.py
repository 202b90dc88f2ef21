"""The httpx backend: the default, and the one behind every injected ``http_client=`` or
``transport=`` (``httpx.ASGITransport``, a proxy, respx in tests)."""

from __future__ import annotations

import contextlib
import http.cookiejar
import math
import urllib.request
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx

from .._config import KEEPALIVE_EXPIRY
from .._errors import SpeedPixError
from .._redact import protect_http_logs, redact_url
from .decoding import (
    ACCEPT_ENCODING,
    UndecodableBody,
    compressed,
    decoded,
    inflated_here,
    read_decoded,
)
from .http import (
    Answer,
    BeforeSend,
    BeforeSendFailed,
    bounded,
    client_closed,
    connection_lost,
    could_not_connect,
    detached,
    firing_once,
    garbled,
    refused_locally,
    timed_out,
    tls_context,
    too_large,
    wrong_scheme,
)
from .sharding import SHARD_SIZE, ShardedTransport

__all__ = ["HttpxBackend", "build_http_client", "connection_error", "read_capped"]


_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connecting",
    httpx.PoolTimeout: "waiting for a free pooled connection",
    httpx.WriteTimeout: "sending the request",
    httpx.ReadTimeout: "waiting for the response",
}


def _proxied() -> bool:
    """Whether the environment names a proxy. httpx mounts environment proxies only on a
    client without a custom transport, so such a pool is left unsharded (slower per request
    in a wide fan-out, but through the proxy)."""
    found = urllib.request.getproxies_environment()
    return any(found.get(scheme) for scheme in ("http", "https", "all"))


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing. Neither API sets or needs cookies, and httpx files
    every response's headers into its jar through an ``email.message.Message`` copy of them —
    a large share of the client's CPU per request in a fan-out."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


def build_http_client(
    *,
    timeout: httpx.Timeout,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The pooled client a backend owns when the user did not inject one.

    Pools are sharded (see :mod:`.sharding`) unless a proxy is configured.
    """
    if transport is None and max_connections > SHARD_SIZE and not _proxied():
        transport = ShardedTransport(max_connections, keepalive_expiry=KEEPALIVE_EXPIRY)
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )
    return httpx.AsyncClient(
        timeout=timeout,
        limits=limits,
        transport=transport,
        verify=tls_context(),
        follow_redirects=False,
        cookies=_NoCookies(),
        # Proxies from the environment are honoured (httpx default); TLS verification stays on.
    )


def _url(request: httpx.Request) -> str:
    return str(request.url.copy_with(query=None))


def connection_error(request: httpx.Request, exc: httpx.TransportError) -> SpeedPixError:
    """The typed error for a request that produced no response.

    ``request_sent`` is False only when the failure proves the request never reached the
    server (connect errors, pool timeouts). The URL shown never carries a query string.
    """
    method = request.method
    url = _url(request)
    if isinstance(exc, httpx.LocalProtocolError):
        return refused_locally(method, url, exc)
    if isinstance(exc, httpx.TimeoutException):
        sent = not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
        return timed_out(method, url, _PHASES.get(type(exc), "talking to the server"), sent=sent)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return wrong_scheme(url, exc)
    if isinstance(exc, httpx.ConnectError):
        return could_not_connect(method, url, exc)
    return connection_lost(method, url, exc)


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The decoded body of a streamed response, refused as soon as it passes ``limit`` bytes —
    however small the compressed body that inflates past it."""
    request = response.request

    def over() -> Exception:
        return too_large(response.status_code, request.method, _url(request), limit)

    encoding = response.headers.get("content-encoding")
    try:
        if not inflated_here(encoding):
            # An encoding we did not ask for (br, zstd): httpx inflates it, a chunk at a time.
            return await read_decoded(response.aiter_bytes(), None, limit, over)
        return await read_decoded(response.aiter_raw(), encoding, limit, over)
    except httpx.StreamConsumed:
        # An injected transport (a mock) handed over a response it had already read.
        if len(response.content) > limit:
            raise over() from None
        return response.content
    except (UndecodableBody, httpx.DecodingError) as exc:
        error: SpeedPixError = detached(
            garbled(response.status_code, request.method, _url(request), exc), exc
        )
    except httpx.TransportError as exc:
        error = detached(connection_error(request, exc), exc)
    raise error  # outside the except blocks: see detached()


async def _raw_decoded(
    response: httpx.Response, chunk_size: int, encoding: str | None
) -> AsyncIterator[bytes]:
    try:
        async for piece in decoded(response.aiter_raw(chunk_size), encoding):
            yield piece
    except httpx.StreamConsumed:
        # An injected transport (a mock) handed over a response it had already read.
        yield response.content


class _Stream:
    """A streamed httpx response as the core's :class:`~.http.StreamResponse`."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers: Mapping[str, str] = response.headers

    async def aread(self, limit: int) -> bytes:
        return await read_capped(self._response, limit)

    async def aiter_bytes(self, chunk_size: int) -> AsyncIterator[bytes]:
        response = self._response
        request = response.request
        encoding = response.headers.get("content-encoding")
        # gzip/deflate are inflated by .decoding in bounded steps: httpx inflates each raw
        # chunk whole, so a 64 KiB piece of a gzip bomb became a 64 MiB allocation.
        pieces = (
            _raw_decoded(response, chunk_size, encoding)
            if compressed(encoding)
            else response.aiter_bytes(chunk_size)
        )
        try:
            async for chunk in pieces:
                yield chunk
            return
        except UndecodableBody as exc:
            error: SpeedPixError = detached(
                garbled(response.status_code, request.method, _url(request), exc), exc
            )
        except httpx.TransportError as exc:
            error = detached(connection_error(request, exc), exc)
        raise error


_HEADERS_GO_OUT = ".send_request_headers.started"


def _trace_hook(before_send: BeforeSend) -> Callable[[str, Mapping[str, Any]], Awaitable[None]]:
    """An httpcore trace callback that awaits ``before_send`` when the request's headers are
    about to be written — the connection made, nothing of the request sent. (Through an
    HTTPS proxy the tunnel's own request comes first: earlier, still before our bytes.)"""
    fire = firing_once(before_send)

    async def trace(event: str, info: Mapping[str, Any]) -> None:
        if event.endswith(_HEADERS_GO_OUT):
            await fire()

    return trace


class HttpxBackend:
    """Requests through an :class:`httpx.AsyncClient`; closes it only if it owns it.

    With ``max_in_flight`` (the size of a pool we built), requests beyond it wait here, in a
    plain FIFO, instead of in httpcore's pool queue: httpcore rescans its whole queue whenever
    a request starts or ends, so a thousand queued requests cost quadratic CPU (measured: 1000
    predictions through one pool of 64 took 11.7 s of client CPU queued in httpcore, 7.2 s with
    this gate, 5.0 s with the gate and the pool sharded). The wait counts against the ``pool``
    timeout, as httpcore's would.

    ``traced``: requests go through httpcore (our own pools, an ``httpx.AsyncHTTPTransport``),
    which reports the moment a request's headers go out; a ``before_send`` hook runs exactly
    then. Through anything else (an injected client, ``ASGITransport``, a mock) the hook runs
    just before the request is handed over.
    """

    name = "httpx"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        owns_client: bool,
        max_in_flight: int | None = None,
        traced: bool = False,
    ) -> None:
        self.client = client
        self.owns_client = owns_client
        self.traced = traced
        self._gate = None if max_in_flight is None else anyio.Semaphore(max_in_flight)
        # httpx logs each request's URL at INFO: signed upload and download URLs included.
        protect_http_logs()

    async def _enter(self, gate: anyio.Semaphore, request: httpx.Request) -> None:
        """Wait for a place in the pool, within the request's ``pool`` timeout."""
        waited = request.extensions.get("timeout", {}).get("pool")
        with anyio.move_on_after(math.inf if waited is None else waited) as scope:
            await gate.acquire()
        if scope.cancelled_caught:
            raise timed_out(
                request.method, _url(request), "waiting for a free pooled connection", sent=False
            )

    def __repr__(self) -> str:
        return f"<HttpxBackend owns_client={self.owns_client}>"

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
    ) -> Answer:
        request = self._build(method, url, headers, content, timeout)
        if before_send is not None and self.traced:
            request.extensions["trace"] = _trace_hook(before_send)
            before_send = None
        return await bounded(within, self._exchange(request, limit, before_send))

    async def upload(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: AsyncIterable[bytes],
        timeout: httpx.Timeout,
        limit: int,
    ) -> Answer:
        # An explicit Content-Length (in headers) keeps httpx from switching to chunked encoding.
        return await self._exchange(self._build(method, url, headers, body, timeout), limit)

    def _build(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | AsyncIterable[bytes] | None,
        timeout: httpx.Timeout,
    ) -> httpx.Request:
        try:
            return self.client.build_request(
                method,
                url,
                content=content,
                headers={"accept-encoding": ACCEPT_ENCODING, **headers},
                timeout=timeout,
            )
        except (UnicodeEncodeError, ValueError, httpx.InvalidURL) as exc:
            raise refused_locally(method, redact_url(url), exc) from exc

    async def _send(self, request: httpx.Request) -> httpx.Response:
        if self.client.is_closed:
            raise client_closed()
        try:
            return await self.client.send(request, stream=True)
        except BeforeSendFailed as failed:
            raise failed.error from None
        except httpx.TransportError as exc:
            error = detached(connection_error(request, exc), exc)
        raise error

    @contextlib.asynccontextmanager
    async def _opened(
        self, request: httpx.Request, before_send: BeforeSend | None = None
    ) -> AsyncIterator[httpx.Response]:
        """``request`` sent, its response open (body unread) until the block ends; a place in
        the gate held for as long. ``before_send`` (untraced transports): awaited once the
        place is held, just before the request is handed over."""
        gate = self._gate
        if gate is not None:
            await self._enter(gate, request)
        try:
            if before_send is not None:
                await before_send()
            response = await self._send(request)
            try:
                yield response
            finally:
                await response.aclose()
        finally:
            if gate is not None:
                gate.release()

    async def _exchange(
        self, request: httpx.Request, limit: int, before_send: BeforeSend | None = None
    ) -> Answer:
        async with self._opened(request, before_send) as response:
            body = await read_capped(response, limit)
        return Answer(response.status_code, response.headers, body)

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: httpx.Timeout
    ) -> AsyncIterator[_Stream]:
        async with self._opened(self._build(method, url, headers, None, timeout)) as response:
            yield _Stream(response)

    async def aclose(self) -> None:
        if self.owns_client:
            await self.client.aclose()
