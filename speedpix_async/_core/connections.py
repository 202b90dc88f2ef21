"""The native backend's connections: one asyncio protocol per socket, carrying one exchange at a
time, and a pool of them per origin under one limit.

Why a protocol and not streams: a JSON call is one write and, nearly always, one received
piece holding the whole answer. A protocol turns that into one callback and one future — no
reader task, no buffered-reader machinery — which is most of what a wide fan-out's client CPU
used to go to (docs/performance.md, "Which backend by default").
"""

from __future__ import annotations

import asyncio
import math
import ssl
import sys
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from .concurrency import callback_context
from .h1 import ResponseReader

__all__ = ["Connection", "ConnectionLost", "Origin", "Pool", "ReadTimeout"]

#: (scheme, host, port)
Origin = tuple[str, str, int]
T = TypeVar("T")


class ConnectionLost(Exception):
    """The connection ended before the answer was complete. ``answered``: whether any byte of
    an answer had arrived."""

    def __init__(self, detail: str, *, answered: bool) -> None:
        super().__init__(detail)
        self.answered = answered


class ReadTimeout(Exception):
    """No byte of the answer arrived for the read timeout — or, with ``at_deadline``, the
    exchange's deadline came before the whole answer."""

    def __init__(self, *, at_deadline: bool = False) -> None:
        super().__init__("the exchange's deadline passed" if at_deadline else "read timeout")
        self.at_deadline = at_deadline


class Connection(asyncio.Protocol):
    """One socket. :meth:`exchange` writes a request and resolves when its answer is read."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._reader: ResponseReader | None = None
        self._answer: asyncio.Future[None] | None = None
        self._read_timeout: float | None = None
        self._until = math.inf
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.idle_since = 0.0

    # ---------------------------------------------------------------- protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not always an asyncio.Transport subclass (uvloop's are
        # not): a cast, not an isinstance check.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        if reader is None:
            # Bytes nobody asked for: this connection's framing can no longer be trusted.
            self.close()
            return
        self._last_read = self._loop.time()
        try:
            complete = reader.feed(data)
        except Exception as exc:  # MalformedResponse, BodyTooLarge: the exchange's error
            self._fail(exc)
            self.close()
            return
        if complete:
            self._resolve()

    def eof_received(self) -> bool:
        # Returning False has the transport close at once (so it is no longer usable), well
        # before connection_lost arrives.
        reader = self._reader
        if reader is not None and reader.end():
            self._resolve()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        reader = self._reader
        if reader is not None and not reader.done:
            detail = str(exc) if exc is not None else "the server closed the connection"
            self._fail(ConnectionLost(detail, answered=reader.received))

    # ---------------------------------------------------------------- the exchange

    async def exchange(
        self,
        data: bytes,
        reader: ResponseReader,
        read_timeout: float | None,
        until: float | None = None,
    ) -> None:
        """Write ``data`` and wait until ``reader`` holds the complete answer — raising
        :class:`ReadTimeout` when no byte came for ``read_timeout`` seconds, or the loop's
        clock reached ``until`` first. Cancelled or failed, the connection is closed (its
        framing is unknown from then on)."""
        transport = self._transport
        if transport is None or not self.usable:
            raise ConnectionLost("the connection was closed", answered=False)
        answer = self._answer = self._loop.create_future()
        self._reader = reader
        self._read_timeout = read_timeout
        self._until = math.inf if until is None else until
        self._last_read = self._loop.time()
        due = self._due()
        if due < math.inf:
            self._watch(due)
        try:
            transport.write(data)
            await answer
        except BaseException:
            self.close()
            raise
        finally:
            self._reader = self._answer = None

    def _watch(self, due: float) -> None:
        """Have :meth:`_check_read` run by ``due``. One timer outlives the exchanges of a busy
        connection — it re-arms itself from the latest activity instead of being made and
        cancelled for every call — and lapses once the connection is idle."""
        timer = self._timer
        if timer is not None and timer.when() <= due:
            return
        if timer is not None:
            timer.cancel()
        self._timer = self._loop.call_at(due, self._check_read, context=callback_context())

    def _due(self) -> float:
        """When the exchange under way times out, as things stand (inf: never)."""
        timeout = self._read_timeout
        if timeout is None:
            return self._until
        return min(self._last_read + timeout, self._until)

    def _check_read(self) -> None:
        self._timer = None
        if self._answer is None:
            return  # idle
        due = self._due()
        if self._loop.time() >= due:
            self._fail(ReadTimeout(at_deadline=due == self._until))
        elif due < math.inf:
            self._watch(due)

    def _resolve(self) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_result(None)

    def _fail(self, exc: Exception) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(exc)

    @property
    def usable(self) -> bool:
        """Whether the connection can carry another exchange: its transport is open — not
        closed by us, by the server (a FIN makes asyncio close it) or by a failure."""
        transport = self._transport
        return transport is not None and not transport.is_closing()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()


async def _within(seconds: float | None, step: Coroutine[Any, Any, T]) -> T:
    """``await step``, raising ``TimeoutError`` after ``seconds`` (None: no limit).

    On Python 3.11+ through ``asyncio.timeout``, which cancels the step in place: no extra task,
    and a step that completes as the time runs out is not lost (``wait_for`` could drop a
    semaphore permit or an open connection that way before 3.12)."""
    if seconds is None:
        return await step
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await step
    return await asyncio.wait_for(step, seconds)  # pragma: no cover - Python 3.10


class Pool:
    """Connections by origin, at most ``limit`` in use at once; idle ones are reused newest
    first and closed once idle for ``keepalive`` seconds (by one timer per pool, so a client
    that goes quiet holds no sockets for long)."""

    def __init__(self, *, limit: int, keepalive: float, tls: Callable[[], ssl.SSLContext]) -> None:
        self.limit = limit
        self.keepalive = keepalive
        self._tls = tls
        self._gate: asyncio.Semaphore | None = None
        self._queued = 0
        # Oldest first: released connections are appended, reuse takes the newest.
        self._idle: dict[Origin, deque[Connection]] = {}
        self._busy: set[Connection] = set()
        self._pruner: asyncio.TimerHandle | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.limit)
        return self._gate

    async def acquire(
        self, origin: Origin, *, connect: float | None, pool: float | None
    ) -> Connection:
        """A connection to ``origin``, reused or new. Raises ``TimeoutError`` when none was
        free within ``pool`` seconds or a new one took longer than ``connect`` (neither sent
        anything), ``OSError`` when none could be made."""
        gate = self._semaphore()
        if self._queued == 0 and not gate.locked():
            await gate.acquire()  # free: returns at once
        else:
            # Behind the others already waiting. (Counted here because Semaphore.locked()
            # scans its waiters whenever a permit was just released to one of them.)
            self._queued += 1
            try:
                await _within(pool, gate.acquire())
            finally:
                self._queued -= 1
        try:
            connection = self._reuse(origin) or await self._open(origin, connect)
        except BaseException:
            gate.release()
            raise
        self._busy.add(connection)
        return connection

    def _reuse(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        stale = asyncio.get_running_loop().time() - self.keepalive
        while idle:
            connection = idle.pop()
            if connection.usable and connection.idle_since > stale:
                return connection
            connection.close()
        return None

    async def _open(self, origin: Origin, connect: float | None) -> Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = self._tls() if scheme == "https" else None
        making = loop.create_connection(
            lambda: Connection(loop),
            host,
            port,
            ssl=tls,
            server_hostname=host if tls is not None else None,
        )
        _, connection = await _within(connect, making)
        return connection

    def release(self, origin: Origin, connection: Connection, *, reusable: bool) -> None:
        """Give a connection back after an exchange: kept for reuse, or closed."""
        self._busy.discard(connection)
        assert self._gate is not None
        self._gate.release()
        if reusable and connection.usable:
            loop = asyncio.get_running_loop()
            connection.idle_since = now = loop.time()
            self._idle.setdefault(origin, deque()).append(connection)
            if self._pruner is None:
                self._pruner = loop.call_at(now + self.keepalive, self._prune)
        else:
            connection.close()

    def _prune(self) -> None:
        """Close the connections idle for ``keepalive``; come back when the next one will be."""
        self._pruner = None
        loop = asyncio.get_running_loop()
        stale = loop.time() - self.keepalive
        oldest = math.inf
        for idle in self._idle.values():
            while idle and (not idle[0].usable or idle[0].idle_since <= stale):
                idle.popleft().close()
            if idle:
                oldest = min(oldest, idle[0].idle_since)
        if oldest < math.inf:
            self._pruner = loop.call_at(oldest + self.keepalive, self._prune)

    def close(self) -> None:
        """Close every connection, idle or in use."""
        if self._pruner is not None:
            self._pruner.cancel()
            self._pruner = None
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        for connection in self._busy:
            connection.close()
        self._busy.clear()
