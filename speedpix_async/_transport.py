"""The async transport core: serialize once → sign → send → classify → retry → unwrap.

One :class:`AsyncTransport` per client owns one pooled :class:`httpx.AsyncClient`. Signing and
response interpretation are pluggable (:class:`Signer`, :class:`ResponseInterpreter`): SpeedPix
uses the API-gateway digest and the ``status``/``data`` envelope, PAI its own scheme and
envelope, and both share the retry loop below.
"""

from __future__ import annotations

import contextlib
import copy
import email.utils
import json
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

import anyio
import attrs
import httpx

from ._config import DEFAULT_MAX_CONNECTIONS, KEEPALIVE_EXPIRY, RetryPolicy
from ._envelope import CallContext, Reply, check_storage_response
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    InputError,
    SpeedPixError,
    TimestampError,
)
from ._pool import ShardedTransport
from ._redact import redact_text, redact_url
from ._retry import Decision, decide, retry_delay
from ._signing import QueryParams, Signature
from ._sources import FileSource

__all__ = [
    "AsyncTransport",
    "ClockSkew",
    "ResponseInterpreter",
    "Signer",
    "UnknownOutcomeFactory",
    "dump_json",
    "make_http_client",
]

log = logging.getLogger("speedpix_async")

T = TypeVar("T")


class Signer(Protocol):
    def sign(
        self,
        *,
        method: str,
        path: str,
        body: bytes | None,
        params: QueryParams | None = None,
        now: float | None = None,
    ) -> Signature: ...


class ResponseInterpreter(Protocol):
    def unwrap(self, response: httpx.Response, call: CallContext) -> Reply: ...


#: Builds the error raised when a non-idempotent call may have been processed: it receives the
#: last failure and the number of attempts made.
UnknownOutcomeFactory = Callable[[SpeedPixError, int], SpeedPixError]


@attrs.define
class ClockSkew:
    """Seconds to add to the local clock to get the gateway's, learned from a ``Date`` header
    when the gateway rejects a timestamp. Shared by every transport of one client."""

    offset: float = 0.0


def dump_json(body: Any) -> bytes:
    """The one serialization of a request body: compact, UTF-8, non-ASCII kept as is (the same
    bytes the official SDKs send), no NaN/Infinity (not JSON)."""
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"the request body cannot be sent as JSON ({exc}); inputs must be str, int, float, "
            "bool, None, lists and dicts of those, or files (Path, bytes, binary file objects)"
        ) from exc
    return text.encode("utf-8")


def make_http_client(
    *,
    timeout: httpx.Timeout,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The pooled client a transport owns when the user did not inject one.

    Pools wider than the default (those ``run_many`` sizes for a wide batch) are sharded (see
    :mod:`._pool`).
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


def _parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return float(email.utils.mktime_tz(parsed))


class AsyncTransport:
    """Signed, retried JSON calls against one base URL.

    Every attempt is signed afresh (new nonce and timestamp). Retries follow
    :func:`speedpix_async._retry.decide`; a non-idempotent call whose outcome is unknown is never
    repeated — the caller's ``unknown_outcome`` factory builds the error instead.
    """

    def __init__(
        self,
        *,
        base_url: str,
        signer: Signer | None,
        interpreter: ResponseInterpreter,
        http_client: httpx.AsyncClient,
        owns_http_client: bool,
        retry: RetryPolicy,
        timeout: httpx.Timeout,
        user_agent: str,
        sign_path_prefix: str = "",
        skew: ClockSkew | None = None,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.interpreter = interpreter
        self.http = http_client
        self.owns_http_client = owns_http_client
        self.retry = retry
        self.timeout = timeout
        self.user_agent = user_agent
        self.sign_path_prefix = sign_path_prefix
        self.skew = skew if skew is not None else ClockSkew()
        self._now = now
        self._monotonic = monotonic
        self._sleep = sleep
        self._rand = rand
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def derive(
        self, *, retry: RetryPolicy | None = None, timeout: httpx.Timeout | None = None
    ) -> AsyncTransport:
        """A transport sharing this one's pool, signer and clock, with other policies. The
        derived transport never closes the shared pool."""
        # A shallow copy shares everything (pool, signer, the very same ClockSkew object) and
        # cannot fall behind when a field is added; only the policies and ownership differ.
        derived = copy.copy(self)
        derived.owns_http_client = False
        derived.retry = retry or self.retry
        derived.timeout = timeout or self.timeout
        return derived

    def now(self) -> float:
        """The gateway's idea of the current time, as far as we know it."""
        return self._now() + self.skew.offset

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.owns_http_client:
            await self.http.aclose()

    # ------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError(
                "this client is closed; create a new client (or keep using it inside its "
                "'async with' block)"
            )

    async def call(
        self,
        path: str,
        body: Any = None,
        *,
        idempotent: bool,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        unknown_outcome: UnknownOutcomeFactory | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send one logical call (with retries) and return the interpreted payload.

        ``body`` is serialized once, here; ``None`` sends no body. ``headers`` are added after
        signing and are not signed (``X-SP-RESOURCE-CONFIG-ID`` must not be, PROTOCOL A.7).
        """
        self._check_open()
        if not idempotent and unknown_outcome is None:
            raise TypeError("non-idempotent calls need an unknown_outcome factory")
        payload = None if body is None else dump_json(body)
        url = f"{self.base_url}{path}"

        async def attempt(number: int) -> Reply:
            return await self._attempt(method, url, path, payload, headers, params, number)

        return await self._retrying(
            attempt,
            method=method,
            path=path,
            idempotent=idempotent,
            unknown_outcome=unknown_outcome,
        )

    async def put_file(self, url: str, source: FileSource) -> None:
        """PUT ``source`` to a presigned URL (no x-ca-* headers, PROTOCOL A.4.4), streamed.

        Idempotent, so retried like any idempotent call; each attempt re-reads the source.
        """
        self._check_open()
        shown = redact_url(url)

        async def attempt(number: int) -> None:
            request = self.http.build_request(
                "PUT",
                url,
                content=source.chunks(),
                # An explicit Content-Length keeps httpx from switching to chunked encoding.
                headers={
                    "content-type": source.content_type,
                    "content-length": str(source.size),
                    "user-agent": self.user_agent,
                },
                timeout=self.timeout,
            )
            response = await self.send(request, attempt=number)
            check_storage_response(response, CallContext(method="PUT", url=shown))

        await self._retrying(
            attempt, method="PUT", path=shown, idempotent=True, unknown_outcome=None
        )

    async def _open_get(self, url: str, shown: str, number: int) -> httpx.Response:
        request = self.http.build_request(
            "GET", url, headers={"user-agent": self.user_agent}, timeout=self.timeout
        )
        response = await self.send(request, attempt=number, stream=True)
        if not response.is_success:
            try:
                await response.aread()
            finally:
                await response.aclose()
            check_storage_response(response, CallContext(method="GET", url=shown))
        return response

    async def _body(self, response: httpx.Response, chunk_size: int) -> AsyncIterator[bytes]:
        """The response body in chunks; a connection lost mid-body is an APIConnectionError."""
        try:
            async for chunk in response.aiter_bytes(chunk_size):
                yield chunk
        except httpx.TransportError as exc:
            raise self._connection_error(response.request, exc, 1) from exc

    @contextlib.asynccontextmanager
    async def stream_get(self, url: str, chunk_size: int) -> AsyncIterator[AsyncIterator[bytes]]:
        """GET ``url`` and yield its body as a chunk iterator.

        Retried until a 2xx status arrives. A failure while the body streams is raised, not
        retried: the caller may already have used the earlier bytes.
        """
        self._check_open()
        shown = redact_url(url)
        response = await self._retrying(
            lambda number: self._open_get(url, shown, number),
            method="GET",
            path=shown,
            idempotent=True,
            unknown_outcome=None,
        )
        try:
            yield self._body(response, chunk_size)
        finally:
            await response.aclose()

    async def download_file(self, url: str, path: Path, chunk_size: int) -> int:
        """GET ``url`` into ``path`` (truncated per attempt); a download cut off mid-body is
        retried from the start like any idempotent call. Returns the bytes written."""
        self._check_open()
        shown = redact_url(url)

        async def attempt(number: int) -> int:
            response = await self._open_get(url, shown, number)
            written = 0
            try:
                async with await anyio.open_file(path, "wb") as out:
                    async for chunk in self._body(response, chunk_size):
                        await out.write(chunk)
                        written += len(chunk)
            finally:
                await response.aclose()
            return written

        return await self._retrying(
            attempt, method="GET", path=shown, idempotent=True, unknown_outcome=None
        )

    async def download_bytes(self, url: str, chunk_size: int) -> bytes:
        """GET ``url`` into memory, retried from the start on failure."""
        self._check_open()
        shown = redact_url(url)

        async def attempt(number: int) -> bytes:
            response = await self._open_get(url, shown, number)
            try:
                return b"".join([chunk async for chunk in self._body(response, chunk_size)])
            finally:
                await response.aclose()

        return await self._retrying(
            attempt, method="GET", path=shown, idempotent=True, unknown_outcome=None
        )

    async def _retrying(
        self,
        attempt: Callable[[int], Awaitable[T]],
        *,
        method: str,
        path: str,
        idempotent: bool,
        unknown_outcome: UnknownOutcomeFactory | None,
    ) -> T:
        """Run ``attempt(n)`` until it succeeds or :func:`decide` says stop."""
        started = self._monotonic()
        number = 0
        clock_corrected = False
        while True:
            number += 1
            try:
                return await attempt(number)
            except _TimestampRejected as rejected:
                error: SpeedPixError = rejected.error
                if not clock_corrected and self._learn_skew(rejected.response):
                    clock_corrected = True
                    log.debug(
                        "gateway rejected our timestamp; clock offset now %+.3fs, re-signing",
                        self.skew.offset,
                    )
                    number -= 1  # a clock correction is not a retry
                    continue
                raise error from None
            except SpeedPixError as exc:
                error = exc
            decision = decide(error, idempotent=idempotent)
            if decision is Decision.OUTCOME_UNKNOWN:
                assert unknown_outcome is not None
                raise unknown_outcome(error, number) from error
            if decision is Decision.RAISE:
                raise error
            if number > self.retry.max_retries:
                log.debug("giving up on %s %s after %d attempts", method, path, number)
                raise error
            delay = retry_delay(
                number - 1, self.retry, getattr(error, "retry_after", None), rand=self._rand
            )
            elapsed = self._monotonic() - started
            if elapsed + delay > self.retry.budget:
                log.debug(
                    "giving up on %s %s: retry budget %.1fs would be exceeded",
                    method,
                    path,
                    self.retry.budget,
                )
                raise error
            log.debug(
                "retrying %s %s in %.3fs (attempt %d failed: %s)",
                method,
                path,
                delay,
                number,
                type(error).__name__,
            )
            await self._sleep(delay)

    def _learn_skew(self, response: httpx.Response) -> bool:
        server = _parse_http_date(response.headers.get("date"))
        if server is None:
            return False
        local = self._now()
        offset = server - local
        # Date has one-second resolution; a smaller gap cannot be the cause of the rejection.
        if math.isclose(offset, self.skew.offset, abs_tol=1.0):
            return False
        self.skew.offset = offset
        return True

    async def _attempt(
        self,
        method: str,
        url: str,
        path: str,
        payload: bytes | None,
        extra_headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        attempt: int,
    ) -> Reply:
        request_headers = {"user-agent": self.user_agent}
        string_to_sign = None
        if self.signer is not None:
            signature = self.signer.sign(
                method=method,
                path=self.sign_path_prefix + path,
                body=payload,
                params=params,
                now=self.now(),
            )
            request_headers.update(signature.headers)
            string_to_sign = signature.string_to_sign
        if extra_headers:
            request_headers.update(extra_headers)
        request = self.http.build_request(
            method,
            url,
            content=payload,
            headers=request_headers,
            params=params,
            timeout=self.timeout,
        )
        call = CallContext(method=method, url=url, string_to_sign=string_to_sign)
        began = self._monotonic()
        response = await self.send(request, attempt=attempt)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s attempt %d -> HTTP %d in %.1f ms (request id %s)",
                method,
                path,
                attempt,
                response.status_code,
                (self._monotonic() - began) * 1000.0,
                response.headers.get("x-ca-request-id", "-"),
            )
        try:
            return self.interpreter.unwrap(response, call)
        except TimestampError as exc:
            raise _TimestampRejected(exc, response) from exc

    async def send(
        self, request: httpx.Request, *, attempt: int = 1, stream: bool = False
    ) -> httpx.Response:
        """Send one request, mapping transport failures to :class:`APIConnectionError`.

        ``request_sent`` on the error is False only when the failure proves the request never
        left this process or never reached the server (connect errors, pool timeouts).
        """
        try:
            return await self.http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise self._connection_error(request, exc, attempt) from exc

    @staticmethod
    def _connection_error(
        request: httpx.Request, exc: httpx.TransportError, attempt: int
    ) -> SpeedPixError:
        # Built only on failure: the URL shown never carries a (possibly signed) query string.
        method = request.method
        url = str(request.url.copy_with(query=None))
        if isinstance(exc, httpx.TimeoutException):
            sent = not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
            phase = {
                httpx.ConnectTimeout: "connecting",
                httpx.PoolTimeout: "waiting for a free pooled connection",
                httpx.WriteTimeout: "sending the request",
                httpx.ReadTimeout: "waiting for the response",
            }.get(type(exc), "talking to the server")
            return APITimeoutError(
                f"timed out {phase} ({method} {url}); raise timeout= if the server is slow",
                method=method,
                url=url,
                request_sent=sent,
                attempts=attempt,
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
                attempts=attempt,
            )
        return APIConnectionError(
            f"the connection failed during {method} {url} ({type(exc).__name__}: "
            f"{redact_text(str(exc)) or 'no detail'})",
            method=method,
            url=url,
            request_sent=True,
            attempts=attempt,
        )


class _TimestampRejected(Exception):
    """Internal: carries a TimestampError together with the response whose Date header lets us
    correct the clock."""

    def __init__(self, error: TimestampError, response: httpx.Response) -> None:
        super().__init__(str(error))
        self.error = error
        self.response = response
