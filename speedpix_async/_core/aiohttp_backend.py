"""The aiohttp backend (what ``"auto"`` picks on asyncio): the SDK's own signed requests and
object-store traffic on aiohttp's connection pool, with the semantics of the httpx backend.

Why it exists: in a wide fan-out the client's CPU, not the server, bounds throughput, and most
of that CPU was inside the HTTP stack. The same requests cost about a third as much client CPU
here (README, "Fan-out"). What is kept identical, and tested against both backends:

* **timeouts** — ``connect`` covers making a connection, ``pool`` waiting for a free one (both
  prove nothing was sent), ``read`` each wait for the answer's next bytes, ``write`` each wait
  for the next piece of a streamed upload to go out (aiohttp has no write timeout of its own;
  :class:`_WriteWatch` supplies it);
* **errors** — the same typed errors, with ``request_sent`` set from what the failure proves;
* **bodies** — sent exactly as given (no added ``Content-Type``, no re-quoted URL, an explicit
  ``Content-Length`` instead of chunked encoding), answers read under the same caps and inflated
  by :mod:`.decoding` in bounded steps;
* **nothing secret in a message** — aiohttp's own errors are shown with URL queries redacted;
* proxies from the environment, the shared TLS context, no redirects, no cookies.

The session is opened on first use: it belongs to the event loop it is opened on (as the httpx
pool does), and a client may be built outside any loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Mapping
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import httpx
import yarl

from .._config import KEEPALIVE_EXPIRY
from .._errors import ConfigurationError, InputError, SpeedPixError
from .._redact import redact_url
from .decoding import ACCEPT_ENCODING, UndecodableBody, decoded, read_decoded
from .http import (
    Answer,
    BeforeSend,
    BeforeSendFailed,
    bounded,
    check_header_values,
    client_closed,
    connection_lost,
    could_not_connect,
    detached,
    firing_once,
    garbled,
    no_connection_in_time,
    on_asyncio,
    refused_locally,
    timed_out,
    tls_context,
    too_large,
    wrong_scheme,
)
from .proxies import Proxies

__all__ = ["AiohttpBackend"]


def _client_timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
    """aiohttp's spelling of an httpx timeout: its ``connect`` spans the wait for a pooled
    connection *and* making one, ``sock_connect`` only the latter."""
    return _spelled(timeout.connect, timeout.read, timeout.pool)


@functools.lru_cache(maxsize=32)
def _spelled(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    either = None if pool is None or connect is None else pool + connect
    return aiohttp.ClientTimeout(total=None, connect=either, sock_connect=connect, sock_read=read)


#: Headers aiohttp would add on its own; we send exactly the headers the caller gave (an added
#: ``Content-Type`` would break a presigned PUT's signature).
_NOT_ADDED = ("Content-Type", "User-Agent")


def _not_to_add(headers: Mapping[str, str]) -> tuple[str, ...] | None:
    """What aiohttp must not add; None — the usual case, where the caller set both (header
    names are lower-case throughout the core) — keeps aiohttp on its fast path."""
    return None if "content-type" in headers and "user-agent" in headers else _NOT_ADDED


def _failure(method: str, url: str, exc: BaseException) -> SpeedPixError:
    """The typed error for an exchange aiohttp could not complete."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return no_connection_in_time(method, url)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return timed_out(method, url, "waiting for the response", sent=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return could_not_connect(method, url, exc)
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return wrong_scheme(url, exc)
    return connection_lost(method, url, exc)


#: What an exchange can fail with below the HTTP layer (``OSError``: a socket error aiohttp
#: passes through unwrapped).
_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


async def _connected(session: aiohttp.ClientSession, context: Any, params: object) -> None:
    """A connection was made or taken from the pool for a request whose headers are not yet
    written: its ``before_send`` (the request's trace context) runs now."""
    fire = context.trace_request_ctx
    if fire is not None:
        await fire()


def _before_send_trace() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_connection_create_end.append(_connected)
    config.on_connection_reuseconn.append(_connected)
    return config


async def _stopped(
    feeder: asyncio.Task[None], scope: anyio.CancelScope, *, grace: float = 0.0
) -> BaseException | None:
    """Stop an upload's feeding task — after letting it finish on its own for up to ``grace``
    seconds — and wait until it has let go of the body; its own error, if it failed.

    Stopped through its anyio ``scope``, not ``Task.cancel()``: a native cancel would also
    break the shields anyio puts around file operations in worker threads, and a file being
    opened at that moment would be dropped unclosed."""
    if grace > 0:
        with anyio.move_on_after(grace):
            await asyncio.wait([feeder])
    scope.cancel()
    with anyio.CancelScope(shield=True):
        await asyncio.wait([feeder])
    if feeder.cancelled():
        return None
    return feeder.exception()


class _WriteWatch:
    """The write timeout of a streamed upload: each piece must be taken by the connection
    within ``seconds`` of the previous one, else the exchange is cancelled.

    aiohttp writes the body from a task of its own and pulls the next piece only once the
    previous one is written, so the gap between pulls is the time a write took.
    """

    def __init__(self, scope: anyio.CancelScope, seconds: float | None) -> None:
        self.scope = scope
        self.seconds = seconds

    def arm(self) -> None:
        if self.seconds is not None:
            self.scope.deadline = anyio.current_time() + self.seconds

    def disarm(self) -> None:
        self.scope.deadline = math.inf

    async def watch(self, body: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        self.arm()
        async for piece in body:
            yield piece
            self.arm()
        # The body is out: from here the read timeout governs.
        self.disarm()


class _Stream:
    """A streamed aiohttp response as the core's :class:`~.http.StreamResponse`."""

    def __init__(self, response: aiohttp.ClientResponse, method: str, url: str) -> None:
        self._response = response
        self._method = method
        self._url = url
        self.status_code = response.status
        self.headers: Mapping[str, str] = response.headers

    async def aread(self, limit: int) -> bytes:
        return await _read(self._response, self._method, self._url, limit)

    async def aiter_bytes(self, chunk_size: int) -> AsyncIterator[bytes]:
        raw = self._response.content.iter_chunked(chunk_size)
        url = redact_url(self._url)
        try:
            async for piece in decoded(raw, self._response.headers.get("content-encoding")):
                yield piece
            return
        except UndecodableBody as exc:
            error: SpeedPixError = detached(garbled(self.status_code, self._method, url, exc), exc)
        except _TRANSPORT_ERRORS as exc:
            error = detached(_failure(self._method, url, exc), exc)
        raise error  # outside the except blocks: see detached()


async def _answer(
    sending: Awaitable[aiohttp.ClientResponse], method: str, url: str, limit: int
) -> Answer:
    """The answer ``sending`` brings, read whole and the connection given back."""
    response = await sending
    try:
        body = await _read(response, method, url, limit)
    finally:
        response.release()
    return Answer(response.status, response.headers, body)


async def _read(response: aiohttp.ClientResponse, method: str, url: str, limit: int) -> bytes:
    """The decoded body, refused past ``limit`` bytes (see :func:`.decoding.read_decoded`)."""
    status = response.status

    def over() -> Exception:
        return too_large(status, method, redact_url(url), limit)

    encoding = response.headers.get("content-encoding")
    try:
        length = response.content_length
        if length is not None and length <= limit and not encoding:
            # The common case, in one read: aiohttp never delivers more than Content-Length.
            return await response.read()
        return await read_decoded(response.content.iter_any(), encoding, limit, over)
    except UndecodableBody as exc:
        error: SpeedPixError = detached(garbled(status, method, redact_url(url), exc), exc)
    except _TRANSPORT_ERRORS as exc:
        error = detached(_failure(method, redact_url(url), exc), exc)
    raise error


#: Seconds an answered upload waits for its body's source to finish its end-of-file check.
UPLOAD_SETTLE = 5.0


class AiohttpBackend:
    """Requests through an :class:`aiohttp.ClientSession` of its own, opened on first use."""

    name = "aiohttp"

    def __init__(self, *, max_connections: int) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        # Requests with a before_send hook go through a second session on the same pool, the
        # only one with a trace config: aiohttp builds trace objects for every request of a
        # traced session, a cost polls need not pay.
        self._traced: aiohttp.ClientSession | None = None
        self._proxies = Proxies()
        self._closed = False

    def __repr__(self) -> str:
        return f"<AiohttpBackend max_connections={self.max_connections}>"

    def _open(self, *, traced: bool = False) -> aiohttp.ClientSession:
        if self._closed:
            raise client_closed()
        session = self._session
        if session is None:
            if not on_asyncio():
                raise ConfigurationError(
                    "the aiohttp backend runs only on asyncio; use http_backend='httpx' (or "
                    "'auto') on other event loops"
                )
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                keepalive_timeout=KEEPALIVE_EXPIRY,
                ssl=tls_context(),
            )
            session = self._session = self._session_on(connector, owner=True)
        if not traced:
            return session
        if self._traced is None:
            self._traced = self._session_on(
                session.connector, owner=False, trace_configs=[_before_send_trace()]
            )
        return self._traced

    @staticmethod
    def _session_on(
        connector: aiohttp.BaseConnector | None,
        *,
        owner: bool,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
    ) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector,
            connector_owner=owner,
            # Bodies are inflated by .decoding, under the caps.
            auto_decompress=False,
            # Proxies from the environment come from .proxies.
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            trace_configs=trace_configs,
        )

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        data: Any,
        timeout: httpx.Timeout,
        before_send: BeforeSend | None = None,
    ) -> aiohttp.ClientResponse:
        session = self._open(traced=before_send is not None)
        try:
            check_header_values(headers)
            target = yarl.URL(url, encoded=True)
        except (ValueError, TypeError) as exc:
            raise refused_locally(method, redact_url(url), exc) from exc
        try:
            return await session.request(
                method,
                target,
                headers={"accept-encoding": ACCEPT_ENCODING, **headers},
                data=data,
                skip_auto_headers=_not_to_add(headers),
                proxy=self._proxies(target.scheme, target.host or ""),
                timeout=_client_timeout(timeout),
                allow_redirects=False,
                trace_request_ctx=None if before_send is None else firing_once(before_send),
            )
        except BeforeSendFailed as failed:
            raise failed.error from None
        except _TRANSPORT_ERRORS as exc:
            error = detached(_failure(method, redact_url(url), exc), exc)
        raise error

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
        sending = self._send(method, url, headers, content, timeout, before_send)
        return await bounded(within, _answer(sending, method, url, limit))

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
        # aiohttp writes the body from a task of its own, which it may abandon mid-body (the
        # server answered or hung up early); a generator it was iterating could then be closed
        # by no one (``aclose()`` while another task runs it is an error) and would keep the
        # file it reads open. So our own task reads ``body`` and hands the pieces over: ours to
        # stop, and the caller's to close, however the exchange ends.
        send, receive = anyio.create_memory_object_stream[bytes](0)

        feeding = anyio.CancelScope()

        async def feed() -> None:
            with feeding:
                async with send:
                    async for piece in body:
                        try:
                            await send.send(piece)
                        except anyio.BrokenResourceError:
                            raise InputError(
                                "the upload body is longer than its declared Content-Length"
                            ) from None

        declared = int(headers.get("content-length", "-1"))

        async def pieces() -> AsyncIterator[bytes]:
            sent = 0
            async for piece in receive:
                yield piece
                sent += len(piece)
                if sent == declared:
                    # Everything declared is out: end now, so that aiohttp's writer finishes
                    # at once. If the answer came while the writer still waited for the
                    # source's end, aiohttp would cancel it and close the connection instead
                    # of reusing it — a new connection for most uploads.
                    receive.close()  # more from the source is an error (see feed())
                    return

        with anyio.CancelScope() as scope, receive:
            feeder = asyncio.get_running_loop().create_task(feed())
            try:
                watch = _WriteWatch(scope, timeout.write)
                response = await self._send(method, url, headers, watch.watch(pieces()), timeout)
                watch.disarm()
                try:
                    content = await _read(response, method, url, limit)
                finally:
                    response.release()
                # The body's source ends after the declared bytes went out (see pieces());
                # its own end-of-file check may still be running, and may still fail.
                failure = await _stopped(feeder, feeding, grace=UPLOAD_SETTLE)
                if failure is not None:
                    raise failure
            except SpeedPixError:
                # The body could not be read (a file that shrank…): that, not the half-sent
                # request it caused, is the error to report.
                failure = await _stopped(feeder, feeding)
                if failure is not None:
                    raise failure  # noqa: B904 - the exchange's error is its context
                raise
            finally:
                await _stopped(feeder, feeding)
            return Answer(response.status, response.headers, content)
        raise timed_out(method, redact_url(url), "sending the request", sent=True)

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: httpx.Timeout
    ) -> AsyncIterator[_Stream]:
        response = await self._send(method, url, headers, None, timeout)
        try:
            yield _Stream(response, method, url)
        finally:
            response.release()

    async def aclose(self) -> None:
        self._closed = True
        traced, self._traced = self._traced, None
        if traced is not None:
            await traced.close()  # its connector is the main session's, closed below
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            # aiohttp closes the sockets in callbacks scheduled by close(); let them run, or a
            # loop stopped right after this leaves the descriptors open.
            await anyio.lowlevel.checkpoint()
