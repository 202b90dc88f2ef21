"""The httpx backend (the default): one pooled :class:`httpx.AsyncClient` per client.

Users may inject their own ``httpx.AsyncClient`` or an ``httpx.AsyncBaseTransport`` (e.g.
``ASGITransport``, respx, a proxy); everything then goes through it, limits included.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping

import httpx

from ..._config import DEFAULT_MAX_CONNECTIONS, KEEPALIVE_EXPIRY
from ..._errors import APIConnectionError, APITimeoutError, ConfigurationError, SpeedPixError
from ..redact import redact_text
from . import Response
from .sharding import ShardedTransport

__all__ = ["HttpxBackend", "build_http_client", "connection_error"]

_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connecting",
    httpx.PoolTimeout: "waiting for a free pooled connection",
    httpx.WriteTimeout: "sending the request",
    httpx.ReadTimeout: "waiting for the response",
}


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


class _Stream:
    """A streamed httpx response as the core's :class:`~.StreamResponse`."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers: Mapping[str, str] = response.headers

    async def aread(self) -> bytes:
        try:
            return await self._response.aread()
        except httpx.TransportError as exc:
            raise connection_error(self._response.request, exc) from exc

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

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: httpx.Timeout,
    ) -> Response:
        request = self.client.build_request(
            method, url, content=content, headers=headers, timeout=timeout
        )
        try:
            response = await self.client.send(request)
        except httpx.TransportError as exc:
            raise connection_error(request, exc) from exc
        return Response(response.status_code, response.headers, response.content)

    async def upload(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: AsyncIterable[bytes],
        timeout: httpx.Timeout,
    ) -> Response:
        # An explicit Content-Length (in headers) keeps httpx from switching to chunked encoding.
        request = self.client.build_request(
            method, url, content=body, headers=headers, timeout=timeout
        )
        try:
            response = await self.client.send(request)
        except httpx.TransportError as exc:
            raise connection_error(request, exc) from exc
        return Response(response.status_code, response.headers, response.content)

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: httpx.Timeout
    ) -> AsyncIterator[_Stream]:
        request = self.client.build_request(method, url, headers=headers, timeout=timeout)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise connection_error(request, exc) from exc
        try:
            yield _Stream(response)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self.owns_client:
            await self.client.aclose()
