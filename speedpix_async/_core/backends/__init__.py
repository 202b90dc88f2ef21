"""HTTP backends: the small interface the core sends requests through.

httpx is the default and the public injection point (``http_client=``, ``transport=``, respx in
tests). A backend turns transport failures into :class:`~speedpix_async.APIConnectionError` /
:class:`~speedpix_async.APITimeoutError` with ``request_sent`` set from what the failure proves,
and never shows a URL's query string (signed URLs carry credentials there).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import httpx

__all__ = ["HttpBackend", "Response", "StreamResponse"]


class Response:
    """A complete HTTP response: status, headers (looked up case-insensitively) and body."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def __repr__(self) -> str:
        return f"<Response {self.status_code}, {len(self.content)} bytes>"

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class StreamResponse(Protocol):
    """A response whose body is read on demand (downloads)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def aread(self) -> bytes:
        """The whole (small) body, e.g. an error document."""
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
    ) -> Response:
        """Send a request with a small body and read the whole answer."""
        ...

    async def upload(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: AsyncIterable[bytes],
        timeout: httpx.Timeout,
    ) -> Response:
        """Send a streamed body (``headers`` carry its ``content-length``)."""
        ...

    def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: httpx.Timeout
    ) -> AbstractAsyncContextManager[StreamResponse]:
        """Send a request and hand over the response before its body is read."""
        ...

    async def aclose(self) -> None: ...
