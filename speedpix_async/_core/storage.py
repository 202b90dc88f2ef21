"""Object-store traffic: streamed PUTs to presigned upload URLs and GETs of output files.

No signing here — a presigned URL carries its own credentials in the query string, which is
why no URL shown in an error or a log keeps it. Bodies stream in chunks both ways, so memory
stays flat however large the file. Uploads and downloads are idempotent, so they are retried;
a download restarts from the first byte.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Protocol, TypeVar

import anyio
import httpx

from .._config import RetryPolicy
from .._errors import (
    APIError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SpeedPixError,
)
from .._redact import redact_text, redact_url
from . import telemetry
from .http import HttpBackend, StreamResponse, log_exchange
from .retry import SYSTEM_CLOCK, Attempts, Clock, parse_retry_after

__all__ = ["Storage", "UploadBody", "storage_error"]

T = TypeVar("T")

_HINTS = {
    403: "the storage refused the presigned URL: it has expired, or the request does not match "
    "what was signed (Content-Type); request a new URL (upload again, or re-run for fresh "
    "output URLs)",
    404: "the storage has no such object; output URLs expire — copy results soon after a run",
    400: "the storage refused the request as malformed",
}
_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}

#: Most bytes read of an object store's own answer (an upload's reply, an error document).
STORE_ANSWER_LIMIT = 1 << 20


class UploadBody(Protocol):
    """A body to PUT: its size and type are known up front, and it can be re-read."""

    @property
    def size(self) -> int: ...

    @property
    def content_type(self) -> str: ...

    def chunks(self) -> AsyncGenerator[bytes, None]:
        """A fresh stream of the bytes (called again for a retry; closed after each)."""
        ...


def storage_error(
    status: int, headers: Mapping[str, str], body: bytes, *, method: str, url: str
) -> APIError:
    """The typed error for a failed presigned PUT/GET.

    Storage answers are not service envelopes: OSS-style stores send an XML (sometimes JSON)
    body with ``Code`` and ``Message``, which are quoted.
    """
    text = body[:2000].decode("utf-8", errors="replace")
    code = re.search(r"<Code>([^<]{1,100})</Code>|\"[Cc]ode\"\s*:\s*\"([^\"]{1,100})\"", text)
    message = re.search(
        r"<Message>([^<]{1,300})</Message>|\"[Mm]essage\"\s*:\s*\"([^\"]{1,300})\"", text
    )
    storage_code = next((g for g in code.groups() if g), None) if code else None
    storage_message = next((g for g in message.groups() if g), None) if message else None
    cls = _CLASSES.get(status, ServerError if status >= 500 else APIError)
    hint = _HINTS.get(status, f"the storage answered HTTP {status}")
    detail = f" ({storage_code}: {redact_text(storage_message or '')})" if storage_code else ""
    return cls(
        hint + detail,
        status_code=status,
        method=method,
        url=url,
        request_id=headers.get("x-oss-request-id") or headers.get("x-request-id"),
        err_code=storage_code,
        err_message=redact_text(storage_message) if storage_message else None,
        retry_after=parse_retry_after(headers),
    )


#: The ``speedpix.service`` of object-store traffic in telemetry (presigned PUT and GET).
STORE = "object store"


class Storage:
    """Presigned PUT/GET through a backend, with the client's timeouts and retries."""

    def __init__(
        self,
        *,
        backend: HttpBackend,
        retry: RetryPolicy,
        timeout: httpx.Timeout,
        user_agent: str,
        check_open: Callable[[], None],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.backend = backend
        self.retry = retry
        self.timeout = timeout
        self.user_agent = user_agent
        self.check_open = check_open
        """Raises when the owning client is closed (its pool may be gone)."""
        self.clock = clock

    async def put(self, url: str, body: UploadBody) -> None:
        """PUT ``body`` to a presigned URL, streamed; each retry re-reads the body."""
        self.check_open()
        shown = redact_url(url)

        async def attempt(number: int) -> None:
            started = self.clock.monotonic()
            # Closed however the attempt ends: an HTTP library abandons a body it could not
            # finish sending, and the body's generator holds the file open until it is closed.
            async with contextlib.aclosing(body.chunks()) as chunks:
                response = await self.backend.upload(
                    "PUT",
                    url,
                    headers={
                        "content-type": body.content_type,
                        "content-length": str(body.size),
                        "user-agent": self.user_agent,
                    },
                    body=chunks,
                    timeout=self.timeout,
                    limit=STORE_ANSWER_LIMIT,
                )
            ended = self.clock.monotonic()
            detail = f"attempt {number}, {body.size:,} bytes"
            log_exchange("PUT", shown, response.status_code, started, ended, detail)
            if not 200 <= response.status_code < 300:
                raise storage_error(
                    response.status_code,
                    response.headers,
                    response.content,
                    method="PUT",
                    url=shown,
                )

        await self._retrying(attempt, "PUT", url, moved=lambda _: body.size)

    @contextlib.asynccontextmanager
    async def _open(self, url: str) -> AsyncIterator[StreamResponse]:
        started = self.clock.monotonic()
        async with self.backend.stream(
            "GET", url, headers={"user-agent": self.user_agent}, timeout=self.timeout
        ) as response:
            # Logged when the answer's head is in (the body is then streamed to its reader).
            ended = self.clock.monotonic()
            log_exchange("GET", redact_url(url), response.status_code, started, ended)
            if not 200 <= response.status_code < 300:
                body = await response.aread(STORE_ANSWER_LIMIT)
                raise storage_error(
                    response.status_code,
                    response.headers,
                    body,
                    method="GET",
                    url=redact_url(url),
                )
            yield response

    @contextlib.asynccontextmanager
    async def stream(self, url: str, chunk_size: int) -> AsyncIterator[AsyncIterator[bytes]]:
        """GET ``url`` and yield its body as a chunk iterator.

        Retried until a 2xx status arrives. A failure while the body streams is raised, not
        retried: the caller may already have used the earlier bytes.
        """
        self.check_open()
        async with contextlib.AsyncExitStack() as stack:

            async def attempt(number: int) -> StreamResponse:
                return await stack.enter_async_context(self._open(url))

            response = await self._retrying(attempt, "GET", url)
            yield response.aiter_bytes(chunk_size)

    async def download_to(self, url: str, path: Path, chunk_size: int) -> int:
        """GET ``url`` into ``path`` (truncated per attempt); a download cut off mid-body is
        retried from the start. Returns the bytes written."""
        self.check_open()

        async def attempt(number: int) -> int:
            written = 0
            async with self._open(url) as response, await anyio.open_file(path, "wb") as out:
                async for chunk in response.aiter_bytes(chunk_size):
                    await out.write(chunk)
                    written += len(chunk)
            return written

        return await self._retrying(attempt, "GET", url, moved=int)

    async def download_bytes(self, url: str, chunk_size: int) -> bytes:
        """GET ``url`` into memory, retried from the start on failure."""
        self.check_open()

        async def attempt(number: int) -> bytes:
            async with self._open(url) as response:
                return b"".join([chunk async for chunk in response.aiter_bytes(chunk_size)])

        return await self._retrying(attempt, "GET", url, moved=len)

    async def _retrying(
        self,
        attempt: Callable[[int], Awaitable[T]],
        method: str,
        url: str,
        *,
        moved: Callable[[T], int] | None = None,
    ) -> T:
        """Run ``attempt(number)`` until it succeeds or the retry rules say stop, as one call
        to telemetry (``moved(result)``: the file bytes it carried)."""
        attempts = Attempts(
            self.retry, idempotent=True, what=f"{method} {redact_url(url)}", clock=self.clock
        )
        with telemetry.call(STORE, method, url, "object") as record:
            while True:
                number = attempts.number + 1
                if record is not None:
                    record.attempts = number
                try:
                    result = await attempt(number)
                except SpeedPixError as error:
                    await attempts.failed(error)
                    continue
                if record is not None and moved is not None:
                    record.moved = moved(result)
                return result
