"""httpx transports that sit between the client and the emulator and misbehave like real
proxies do: replay a request, rewrite a body, strip a header."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx


class Proxy(httpx.AsyncBaseTransport):
    """Forwards to ``inner``, letting subclasses rewrite requests and responses."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def rewrite(self, request: httpx.Request) -> httpx.Request:
        return request

    def rewrite_response(self, response: httpx.Response) -> httpx.Response:
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        forwarded = self.rewrite(request)
        self.requests.append(forwarded)
        response = await self.inner.handle_async_request(forwarded)
        await response.aread()
        return self.rewrite_response(response)

    async def aclose(self) -> None:
        await self.inner.aclose()


def copy_request(
    request: httpx.Request,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Request:
    new_headers = dict(request.headers)
    body = request.content if content is None else content
    new_headers.update(headers or {})
    new_headers["content-length"] = str(len(body))
    return httpx.Request(request.method, request.url, headers=new_headers, content=body)


class ReplayingProxy(Proxy):
    """Sends the first request's exact headers and body again for every later request to the
    same path (a proxy that 'retries' by replaying what it captured)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        super().__init__(inner)
        self.first: dict[str, httpx.Request] = {}

    def rewrite(self, request: httpx.Request) -> httpx.Request:
        captured = self.first.setdefault(request.url.path, request)
        return copy_request(captured)


class BodyRewritingProxy(Proxy):
    """Re-serializes bodies (as some API gateways and middlewares do), keeping the headers."""

    def __init__(self, inner: httpx.AsyncBaseTransport, change: Callable[[bytes], bytes]) -> None:
        super().__init__(inner)
        self.change = change

    def rewrite(self, request: httpx.Request) -> httpx.Request:
        return copy_request(request, content=self.change(request.content))


class HeaderRewritingProxy(Proxy):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        request_headers: dict[str, str] | None = None,
        drop_response_headers: tuple[str, ...] = (),
    ) -> None:
        super().__init__(inner)
        self.request_headers = request_headers or {}
        self.drop = drop_response_headers

    def rewrite(self, request: httpx.Request) -> httpx.Request:
        return copy_request(request, headers=self.request_headers)

    def rewrite_response(self, response: httpx.Response) -> httpx.Response:
        headers = {k: v for k, v in response.headers.items() if k.lower() not in self.drop}
        return httpx.Response(response.status_code, headers=headers, content=response.content)


class InFlight(httpx.AsyncBaseTransport):
    """Counts requests whose response has not been closed yet (a connection still busy)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.started = 0
        self.in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.started += 1
        self.in_flight += 1
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException:
            self.in_flight -= 1
            raise
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Released(response.stream, self),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Released(httpx.AsyncByteStream):
    def __init__(self, inner: Any, owner: InFlight) -> None:
        self.inner = inner
        self.owner = owner
        self.open = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            if self.open:
                self.open = False
                self.owner.in_flight -= 1
