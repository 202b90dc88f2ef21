"""HTTP for the core: the small backend interface every request goes through, and the httpx
backend (the default).

httpx is also the public injection point (``http_client=``, ``transport=``, respx in tests):
users may inject their own ``httpx.AsyncClient`` or an ``httpx.AsyncBaseTransport`` (e.g.
``ASGITransport``, a proxy), and everything then goes through it, limits included. A backend
turns transport failures into :class:`~speedpix_async.APIConnectionError` /
:class:`~speedpix_async.APITimeoutError` with ``request_sent`` set from what the failure proves,
and never shows a URL's query string (signed URLs carry credentials there).

Wide pools are sharded: httpcore assigns queued requests to connections by scanning its whole
pool — checking every idle socket with a ``select()`` — each time a request starts or ends.
Cheap for tens of connections, quadratic for a thousand requests at once.
:class:`ShardedTransport` keeps the same total capacity in several small pools and sends each
request to the shard with the fewest requests in flight, so every scan stays short.
"""

from __future__ import annotations

import contextlib
import functools
import math
import ssl
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import attrs
import httpx

from .._config import DEFAULT_MAX_CONNECTIONS, KEEPALIVE_EXPIRY
from .._errors import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    ConfigurationError,
    InputError,
    ResponseValidationError,
    SpeedPixError,
)
from .._redact import protect_http_logs, redact_text, redact_url

__all__ = [
    "ACCEPT_ENCODING",
    "SHARD_SIZE",
    "Answer",
    "HttpBackend",
    "HttpxBackend",
    "Response",
    "ShardedTransport",
    "StreamResponse",
    "build_http_client",
    "connection_error",
]


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
    """A complete response as the httpx backend hands it over: its body read under a cap."""

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

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: httpx.Timeout,
        limit: int,
    ) -> Response:
        """Send a request with a small body and read the whole answer — at most ``limit``
        bytes once decoded, else :class:`~speedpix_async.ResponseValidationError` with
        ``over_limit`` set."""
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


# ------------------------------------------------------------------------ httpx


_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connecting",
    httpx.PoolTimeout: "waiting for a free pooled connection",
    httpx.WriteTimeout: "sending the request",
    httpx.ReadTimeout: "waiting for the response",
}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context every pool of this process shares, built on first use.

    Building one loads the CA bundle — 20 to 100 ms of blocking work, which in async code
    stalls the event loop — so it is done once per process, not once per client. It is made
    the way httpx makes its default (certifi's CAs, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured
    as read at that first use); verification stays on.
    """
    return httpx.create_ssl_context()


def build_http_client(
    *,
    timeout: httpx.Timeout,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The pooled client a backend owns when the user did not inject one.

    Pools wider than the default (those ``run_many`` sizes for a wide batch) are sharded (see
    :mod:`.sharding`).
    """
    if transport is None and max_connections > DEFAULT_MAX_CONNECTIONS:
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
        # Proxies from the environment are honoured (httpx default); TLS verification stays on.
    )


def connection_error(request: httpx.Request, exc: httpx.TransportError) -> SpeedPixError:
    """The typed error for a request that produced no response.

    ``request_sent`` is False only when the failure proves the request never reached the
    server (connect errors, pool timeouts). The URL shown never carries a query string.
    """
    method = request.method
    url = str(request.url.copy_with(query=None))
    if isinstance(exc, httpx.LocalProtocolError):
        return refused_locally(method, url, exc)
    if isinstance(exc, httpx.TimeoutException):
        sent = not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
        phase = _PHASES.get(type(exc), "talking to the server")
        return APITimeoutError(
            f"timed out {phase} ({method} {url}); raise timeout= if the server is slow",
            method=method,
            url=url,
            request_sent=sent,
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigurationError(
            f"cannot send to {url}: {exc}; the endpoint must start with http:// or https://"
        )
    if isinstance(exc, httpx.ConnectError):
        return APIConnectionError(
            f"could not connect to {url} ({exc or type(exc).__name__}); check the endpoint "
            "and the network",
            method=method,
            url=url,
            request_sent=False,
        )
    return APIConnectionError(
        f"the connection failed during {method} {url} ({type(exc).__name__}: "
        f"{redact_text(str(exc)) or 'no detail'})",
        method=method,
        url=url,
        request_sent=True,
    )


def refused_locally(method: str, url: str, exc: Exception) -> InputError:
    """The HTTP library refused to send a request (a header or body it cannot put on the
    wire): nothing reached the server, and another attempt would be refused the same way."""
    return InputError(
        f"the request {method} {url} was refused before sending, nothing was sent "
        f"({type(exc).__name__}: {redact_text(str(exc)) or 'no detail'}); header values must "
        "be visible ASCII, and a body must match its declared length"
    )


#: What we accept: encodings this module inflates itself, under the cap.
ACCEPT_ENCODING = "gzip, deflate"


def _inflater(encoding: str, first: bytes) -> Any:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    # "deflate" is a zlib stream by the RFC, a raw one from some servers: its header tells.
    header = int.from_bytes(first[:2], "big")
    wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and header % 31 == 0
    return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


def _too_large(response: httpx.Response, limit: int) -> ResponseValidationError:
    request = response.request
    return ResponseValidationError(
        f"the response body is larger than {limit:,} bytes, the most this client reads for "
        "an API answer; the endpoint is not behaving like the API",
        over_limit=True,
        status_code=response.status_code,
        method=request.method,
        url=str(request.url.copy_with(query=None)),
    )


def _garbled(response: httpx.Response, exc: Exception) -> ResponseValidationError:
    request = response.request
    return ResponseValidationError(
        f"the response body could not be decompressed ({exc})",
        incomplete=True,
        status_code=response.status_code,
        method=request.method,
        url=str(request.url.copy_with(query=None)),
    )


#: Most bytes one inflate step produces.
INFLATE_STEP = 1 << 20


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The decoded body of a streamed response, refused as soon as it passes ``limit`` bytes —
    however small the compressed body that inflates past it."""
    encoding = (response.headers.get("content-encoding") or "").strip().lower()
    parts: list[bytes] = []
    size = 0

    def keep(piece: bytes) -> None:
        nonlocal size
        size += len(piece)
        if size > limit:
            raise _too_large(response, limit)
        parts.append(piece)

    try:
        if encoding in ("", "identity", "gzip", "x-gzip", "deflate"):
            inflater: Any = None
            async for raw in response.aiter_raw():
                if encoding in ("", "identity"):
                    keep(raw)
                    continue
                if inflater is None:
                    inflater = _inflater(encoding, raw)
                pending = raw
                while pending:
                    # max_length: inflate in steps of at most INFLATE_STEP, and never more than
                    # one byte past the cap, so a bomb costs the cap and one step of memory.
                    step = min(INFLATE_STEP, limit - size + 1)
                    keep(inflater.decompress(pending, step))
                    pending = inflater.unconsumed_tail
            if inflater is not None:
                keep(inflater.flush())
        else:
            # An encoding we did not ask for (br, zstd): httpx inflates it, a chunk at a time.
            async for chunk in response.aiter_bytes():
                keep(chunk)
    except httpx.StreamConsumed:
        # An injected transport (a mock) handed over a response it had already read.
        if len(response.content) > limit:
            raise _too_large(response, limit) from None
        return response.content
    except (zlib.error, httpx.DecodingError) as exc:
        raise _garbled(response, exc) from exc
    except httpx.TransportError as exc:
        raise connection_error(response.request, exc) from exc
    return b"".join(parts)


class _Stream:
    """A streamed httpx response as the core's :class:`~.StreamResponse`."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers: Mapping[str, str] = response.headers

    async def aread(self, limit: int) -> bytes:
        return await read_capped(self._response, limit)

    async def aiter_bytes(self, chunk_size: int) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes(chunk_size):
                yield chunk
        except httpx.TransportError as exc:
            raise connection_error(self._response.request, exc) from exc


class HttpxBackend:
    """Requests through an :class:`httpx.AsyncClient`; closes it only if it owns it."""

    def __init__(self, client: httpx.AsyncClient, *, owns_client: bool) -> None:
        self.client = client
        self.owns_client = owns_client
        # httpx logs each request's URL at INFO: signed upload and download URLs included.
        protect_http_logs()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: httpx.Timeout,
        limit: int,
    ) -> Answer:
        return await self._exchange(method, url, headers, content, timeout, limit)

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
        return await self._exchange(method, url, headers, body, timeout, limit)

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
            raise ClientClosedError(
                "this client is closed; create a new client (or keep using it inside its "
                "'async with' block)"
            )
        try:
            return await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise connection_error(request, exc) from exc

    async def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | AsyncIterable[bytes] | None,
        timeout: httpx.Timeout,
        limit: int,
    ) -> Answer:
        response = await self._send(self._build(method, url, headers, content, timeout))
        try:
            body = await read_capped(response, limit)
        finally:
            await response.aclose()
        return Answer(response.status_code, response.headers, body)

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: httpx.Timeout
    ) -> AsyncIterator[_Stream]:
        response = await self._send(self._build(method, url, headers, None, timeout))
        try:
            yield _Stream(response)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self.owns_client:
            await self.client.aclose()


# ------------------------------------------------------------------------ sharded pools


#: Connections per shard: small enough that httpcore's per-request pool scan (a select() per
#: idle connection) stays cheap. 1000 concurrent requests over warm connections cost 1.9 s of
#: client CPU with shards of 16, 1.1 s with shards of 4 (and the same with 2).
SHARD_SIZE = 4


class _Counted(httpx.AsyncByteStream):
    """A response body that tells its shard when it has been closed."""

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release
        self._open = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._open:
                self._open = False
                self._release()


class ShardedTransport(httpx.AsyncBaseTransport):
    """``connections`` in shards of :data:`SHARD_SIZE`, least-busy shard first."""

    def __init__(self, connections: int, *, keepalive_expiry: float) -> None:
        shards = max(1, math.ceil(connections / SHARD_SIZE))
        limits = httpx.Limits(
            max_connections=SHARD_SIZE,
            max_keepalive_connections=SHARD_SIZE,
            keepalive_expiry=keepalive_expiry,
        )
        context = tls_context()
        self._shards = [
            httpx.AsyncHTTPTransport(limits=limits, verify=context) for _ in range(shards)
        ]
        self._in_flight = [0] * shards

    @property
    def shards(self) -> int:
        return len(self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._shards)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            self._in_flight[index] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Counted(response.stream, functools.partial(self._release, index)),
            extensions=response.extensions,
        )

    def _release(self, index: int) -> None:
        self._in_flight[index] -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()
