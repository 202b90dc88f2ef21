"""The native backend (what ``"auto"`` picks on asyncio): the SDK's own API calls over its own
HTTP/1.1 connections (:mod:`.connections`, :mod:`.h1`); files and proxied requests on aiohttp.

Why it exists: in a wide fan-out the client's CPU bounds throughput, and a general HTTP
library spends most of it on what a signed JSON call never uses — per-request objects, tracing
hooks, a writer task, multi-dict headers. Here one call is one write and one callback
(docs/performance.md, "Which backend by default"). What is kept identical to the other
backends, and tested against all of them:

* **timeouts** — ``pool`` waiting for a free connection and ``connect`` making one (neither
  sent anything), ``read`` each wait for the answer's next bytes. A request's head and small
  body are handed to the socket in one write, so ``write`` has nothing to time;
* **errors** — the same typed errors, ``request_sent`` set from what the failure proves; an
  answer that is not HTTP/1.1 is a lost connection, one past the cap ``too_large``;
* **bodies** — sent as given (an explicit ``content-length``, no added headers), answers read
  under the same cap and inflated by :mod:`.decoding`;
* connections kept alive for :data:`~.._config.KEEPALIVE_EXPIRY`, the shared TLS context, no
  redirects, no cookies.

Uploads, downloads and requests through an environment proxy go to an
:class:`~.aiohttp_backend.AiohttpBackend` made on first need (object-store traffic is a few
large exchanges, where a mature library's flow control matters and per-request CPU does not).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from .._config import KEEPALIVE_EXPIRY
from .._errors import ConfigurationError, SpeedPixError
from .._redact import redact_url
from .concurrency import asyncio_loop
from .connections import Connection, ConnectionLost, Origin, Pool, ReadTimeout
from .decoding import ACCEPT_ENCODING, UndecodableBody, compressed, inflated_here, read_decoded
from .h1 import BodyTooLarge, MalformedResponse, ResponseReader, head
from .http import (
    Answer,
    BeforeSend,
    ForwardsFiles,
    HttpBackend,
    OutOfTime,
    check_header_values,
    client_closed,
    connection_lost,
    could_not_connect,
    detached,
    garbled,
    no_connection_in_time,
    refused_locally,
    timed_out,
    tls_context,
    too_large,
    wrong_scheme,
)
from .proxies import Proxies

if TYPE_CHECKING:
    from .aiohttp_backend import AiohttpBackend

__all__ = ["NativeBackend"]

_PORTS = {"http": 80, "https": 443}
#: Raw bytes an encoded answer may take beyond the cap before inflating is even tried (a
#: compressed body a little larger than the text it holds is legal, if odd).
_ENCODED_SLACK = 64 * 1024


class _Target:
    """What a URL means to a request: its origin, the request target and the ``host`` header."""

    __slots__ = ("host", "origin", "path")

    def __init__(self, origin: Origin, path: str, host: str) -> None:
        self.origin = origin
        self.path = path
        self.host = host

    @classmethod
    def parse(cls, url: str) -> _Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port  # ValueError for a port that is not one
        if scheme not in _PORTS or not parts.hostname:
            raise ValueError(f"unsupported URL {url!r}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        origin = (scheme, parts.hostname, port or _PORTS[scheme])
        return cls(origin, path, parts.netloc.rpartition("@")[2])

    def with_query(self, query: str) -> _Target:
        return _Target(self.origin, f"{self.path}?{query}", self.host)


async def _one(piece: bytes) -> AsyncIterator[bytes]:
    yield piece


class NativeBackend(ForwardsFiles):
    """API calls on a :class:`~.connections.Pool` of its own; the rest on aiohttp."""

    name = "native"

    def __init__(self, *, max_connections: int) -> None:
        self.max_connections = max_connections
        self._pool = Pool(limit=max_connections, keepalive=KEEPALIVE_EXPIRY, tls=tls_context)
        self._proxies = Proxies()
        self._targets: dict[str, _Target] = {}
        self._aiohttp_backend: AiohttpBackend | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<NativeBackend max_connections={self.max_connections}>"

    def _aiohttp(self) -> AiohttpBackend:
        if self._closed:
            raise client_closed()
        if self._aiohttp_backend is None:
            # Imported on first need: a fan-out of API calls never loads aiohttp.
            from .aiohttp_backend import AiohttpBackend

            self._aiohttp_backend = AiohttpBackend(max_connections=self.max_connections)
        return self._aiohttp_backend

    def _files(self) -> HttpBackend:
        return self._aiohttp()

    def _target(self, url: str) -> _Target:
        # The API's URLs differ by query only; a poll's URL is its task's, so a small cache
        # of parsed bases pays off without holding every URL ever seen.
        base, _, query = url.partition("?")
        target = self._targets.get(base)
        if target is None:
            try:
                target = _Target.parse(base)
            except ValueError as exc:
                raise wrong_scheme(redact_url(url), exc) from None
            if len(self._targets) < 64:
                self._targets[base] = target
        return target.with_query(query) if query else target

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
        if self._closed:
            raise client_closed()
        target = self._target(url)
        scheme, host, _ = target.origin
        if self._proxies(scheme, host) is not None:
            return await self._aiohttp().request(
                method,
                url,
                headers=headers,
                content=content,
                timeout=timeout,
                limit=limit,
                before_send=before_send,
                within=within,
            )
        loop = asyncio_loop()
        if loop is None:
            raise ConfigurationError(
                "the native backend runs only on asyncio; use http_backend='httpx' (or "
                "'auto') on other event loops"
            )
        # The deadline as a time, not a cancel scope: each wait below ends by it on its own
        # (a scope per request was a tenth of a wide fan-out's client CPU: docs/performance.md).
        until = None if within is None else loop.time() + within
        try:
            check_header_values(headers)
            if " " in target.path:
                raise ValueError("the URL has a space in its path or query")
            data = head(
                method,
                target.path,
                target.host,
                {"accept-encoding": ACCEPT_ENCODING, **headers},
                None if content is None else len(content),
            )
        except (ValueError, UnicodeEncodeError) as exc:
            raise refused_locally(method, redact_url(url), exc) from exc
        if content:
            data += content
        connection = await self._connect(method, url, target.origin, timeout, until)
        reusable = False
        try:
            if before_send is not None:
                await before_send()
            reader = ResponseReader(method, limit + _ENCODED_SLACK)
            reusable = await self._exchange(connection, data, reader, method, url, timeout, until)
        finally:
            self._pool.release(target.origin, connection, reusable=reusable)
        return await self._answer(reader, method, url, limit)

    async def _connect(
        self, method: str, url: str, origin: Origin, timeout: httpx.Timeout, until: float | None
    ) -> Connection:
        pool, connect = timeout.pool, timeout.connect
        if until is not None:
            left = until - asyncio.get_running_loop().time()
            pool = left if pool is None else min(pool, left)
            connect = left if connect is None else min(connect, left)
        try:
            return await self._pool.acquire(origin, connect=connect, pool=pool)
        except asyncio.TimeoutError as exc:
            if until is not None and asyncio.get_running_loop().time() >= until:
                raise OutOfTime(request_sent=False) from None
            error: SpeedPixError = detached(no_connection_in_time(method, redact_url(url)), exc)
        except OSError as exc:
            error = detached(could_not_connect(method, redact_url(url), exc), exc)
        raise error  # outside the except blocks: see detached()

    async def _exchange(
        self,
        connection: Connection,
        data: bytes,
        reader: ResponseReader,
        method: str,
        url: str,
        timeout: httpx.Timeout,
        until: float | None,
    ) -> bool:
        """Send and read one answer; whether the connection may carry another."""
        try:
            await connection.exchange(data, reader, timeout.read, until)
            return reader.reusable
        except ReadTimeout as exc:
            if exc.at_deadline:
                raise OutOfTime(request_sent=True) from None
            error: SpeedPixError = detached(
                timed_out(method, redact_url(url), "waiting for the response", sent=True), exc
            )
        except BodyTooLarge:
            error = too_large(reader.status, method, redact_url(url), reader.limit - _ENCODED_SLACK)
        except (ConnectionLost, MalformedResponse, OSError) as exc:
            error = detached(connection_lost(method, redact_url(url), exc), exc)
        raise error

    async def _answer(self, reader: ResponseReader, method: str, url: str, limit: int) -> Answer:
        status, headers, body = reader.status, reader.headers, reader.body
        encoding = headers.get("content-encoding")

        def over() -> Exception:
            return too_large(status, method, redact_url(url), limit)

        if not compressed(encoding) and inflated_here(encoding):  # none, or identity
            if len(body) > limit:
                raise over()
            return Answer(status, headers, body)
        try:
            # Inflated in bounded steps; an encoding we never asked for is refused.
            body = await read_decoded(_one(body), encoding, limit, over)
        except UndecodableBody as exc:
            error = detached(garbled(status, method, redact_url(url), exc), exc)
        else:
            return Answer(status, headers, body)
        raise error  # outside the except block: see detached()

    async def aclose(self) -> None:
        self._closed = True
        self._pool.close()
        files, self._aiohttp_backend = self._aiohttp_backend, None
        if files is not None:
            await files.aclose()
        # Transports close in callbacks scheduled by close(); let them run, or a loop stopped
        # right after this leaves the descriptors open.
        await asyncio.sleep(0)
