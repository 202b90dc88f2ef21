"""The native backend's own connections against a raw server on a loopback socket: the exact
bytes sent, keep-alive and its limits, and every way an exchange can end early.

(The transport suite runs the whole SDK on this backend too; these tests pin what only a
hand-written HTTP/1.1 client can get wrong.)
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import httpx
import pytest
import trustme

from speedpix_async import APIConnectionError, APITimeoutError
from speedpix_async._core import native_backend
from speedpix_async._core.connections import Connection, ConnectionLost
from speedpix_async._core.h1 import ResponseReader
from speedpix_async._core.http import OutOfTime
from speedpix_async._core.native_backend import NativeBackend

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TIMEOUT = httpx.Timeout(5.0)
LIMIT = 1 << 20
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the native backend runs on asyncio only


class RawServer:
    """A TCP server whose connections run ``handler``; counts connections and requests."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.requests: list[bytes] = []
        self.closed_by_client = 0
        self.url = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            await self.handler(reader, writer)
        finally:
            self.open_now -= 1
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        """One request's head and body, or None when the client closed the connection."""
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.closed_by_client += 1
            return None
        length = 0
        for line in raw.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        raw += await reader.readexactly(length)
        self.requests.append(raw)
        return raw


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Handler], Awaitable[RawServer]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> RawServer:
        state = RawServer(handler)
        server = await asyncio.start_server(state.serve, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        state.url = f"http://127.0.0.1:{port}"
        return state

    yield start
    for server in servers:
        server.close()


def answering(*answers: bytes, close_after: bool = False) -> Callable[[RawServer], Handler]:
    """A handler that answers each request on a connection with the next of ``answers``
    (the last one repeats), then closes the connection if ``close_after``."""

    def make(state: RawServer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            count = 0
            while await state.read_request(reader) is not None:
                writer.write(answers[min(count, len(answers) - 1)])
                await writer.drain()
                count += 1
                if close_after:
                    return

        return handle

    return make


async def start_with(
    raw_server: Callable[[Handler], Awaitable[RawServer]], make: Callable[[RawServer], Handler]
) -> RawServer:
    holder: list[RawServer] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await make(holder[0])(reader, writer)

    state = await raw_server(handler)
    holder.append(state)
    return state


async def get(backend: NativeBackend, url: str, *, timeout: httpx.Timeout = TIMEOUT) -> bytes:
    answer = await backend.request(
        "GET", url, headers={"x-a": "1"}, content=None, timeout=timeout, limit=LIMIT
    )
    assert answer.status_code == 200
    return answer.content


async def test_sequential_calls_share_one_connection_and_send_exactly_the_given_bytes(
    raw_server: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    server = await start_with(raw_server, answering(OK))
    backend = NativeBackend(max_connections=4)
    try:
        answer = await backend.request(
            "POST",
            f"{server.url}/scc/x?b=2",
            headers={"content-type": "application/json", "x-ca-key": "k"},
            content=b'{"a":1}',
            timeout=TIMEOUT,
            limit=LIMIT,
        )
        assert (answer.status_code, answer.content) == (200, b"ok")
        for _ in range(5):
            assert await get(backend, f"{server.url}/p") == b"ok"
    finally:
        await backend.aclose()
    assert server.connections == 1
    host = server.url.removeprefix("http://").encode()
    assert server.requests[0] == (
        b"POST /scc/x?b=2 HTTP/1.1\r\nhost: " + host + b"\r\naccept-encoding: gzip, deflate\r\n"
        b"content-type: application/json\r\nx-ca-key: k\r\ncontent-length: 7\r\n\r\n"
        b'{"a":1}'
    )


async def test_an_idle_connection_is_closed_after_the_keepalive_expiry(
    raw_server: Callable[[Handler], Awaitable[RawServer]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native_backend, "KEEPALIVE_EXPIRY", 0.2)
    server = await start_with(raw_server, answering(OK))
    backend = NativeBackend(max_connections=4)
    try:
        assert await get(backend, server.url) == b"ok"
        await asyncio.sleep(0.1)
        assert await get(backend, server.url) == b"ok"  # reused: still fresh
        assert server.closed_by_client == 0
        await asyncio.sleep(0.5)
        # Nobody asked for a connection meanwhile: the pool closed it on its own.
        assert server.closed_by_client == 1
        assert await get(backend, server.url) == b"ok"
    finally:
        await backend.aclose()
    assert server.connections == 2


@pytest.mark.parametrize(
    "make",
    [
        answering(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
        answering(OK, close_after=True),
    ],
    ids=["connection-close", "server-hangs-up-when-idle"],
)
async def test_a_connection_the_server_ends_is_not_reused(
    raw_server: Callable[[Handler], Awaitable[RawServer]], make: Callable[[RawServer], Handler]
) -> None:
    server = await start_with(raw_server, make)
    backend = NativeBackend(max_connections=4)
    try:
        for _ in range(3):
            assert await get(backend, server.url) == b"ok"
            await asyncio.sleep(0.05)  # the hang-up reaches the client
    finally:
        await backend.aclose()
    assert server.connections == 3
    assert len(server.requests) == 3  # nothing was sent on a dead connection


async def test_a_chunked_gzip_answer_is_inflated(
    raw_server: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    body = gzip.compress(b'{"status": 10}' * 100)
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 50]), body[i : i + 50]) for i in range(0, len(body), 50)
    )
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )
    server = await start_with(raw_server, answering(answer))
    backend = NativeBackend(max_connections=4)
    try:
        assert await get(backend, server.url) == b'{"status": 10}' * 100
        assert await get(backend, server.url) == b'{"status": 10}' * 100
    finally:
        await backend.aclose()
    assert server.connections == 1


async def test_a_silent_server_is_a_read_timeout_and_its_connection_is_dropped(
    raw_server: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    def silent(state: RawServer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await state.read_request(reader)
            await state.read_request(reader)  # returns when the client hangs up

        return handle

    server = await start_with(raw_server, silent)
    backend = NativeBackend(max_connections=4)
    try:
        with anyio.fail_after(5), pytest.raises(APITimeoutError) as caught:
            await get(backend, server.url, timeout=httpx.Timeout(5.0, read=0.2))
        await asyncio.sleep(0.05)
    finally:
        await backend.aclose()
    assert caught.value.request_sent is True
    assert "waiting for the response" in str(caught.value)
    assert server.closed_by_client == 1


async def test_a_trickle_of_bytes_keeps_resetting_the_read_timeout(
    raw_server: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    def trickling(state: RawServer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await state.read_request(reader)
            for byte in OK:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.01)

        return handle

    server = await start_with(raw_server, trickling)
    backend = NativeBackend(max_connections=4)
    try:
        # 38 bytes, 10 ms apart: 0.38 s in all, far past a read timeout of 0.1 s per wait.
        assert await get(backend, server.url, timeout=httpx.Timeout(5.0, read=0.1)) == b"ok"
    finally:
        await backend.aclose()


async def test_a_cancelled_call_drops_its_connection_and_the_next_call_works(
    raw_server: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    def slow_first(state: RawServer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await state.read_request(reader) is not None:
                if len(state.requests) == 1:
                    await asyncio.sleep(0.3)
                writer.write(OK)
                await writer.drain()

        return handle

    server = await start_with(raw_server, slow_first)
    backend = NativeBackend(max_connections=1)
    try:
        with anyio.move_on_after(0.1) as scope:
            await get(backend, server.url)
        assert scope.cancelled_caught
        # The one slot is free again, on a new connection: the old one's answer is never
        # mistaken for this call's.
        assert await get(backend, server.url) == b"ok"
    finally:
        await backend.aclose()
    assert server.connections == 2


async def test_at_most_max_connections_are_open_and_the_rest_wait(
    raw_server: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    def slow(state: RawServer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await state.read_request(reader) is not None:
                await asyncio.sleep(0.02)
                writer.write(OK)
                await writer.drain()

        return handle

    server = await start_with(raw_server, slow)
    backend = NativeBackend(max_connections=2)
    try:
        async with anyio.create_task_group() as group:
            for _ in range(12):
                group.start_soon(get, backend, server.url)
    finally:
        await backend.aclose()
    assert len(server.requests) == 12
    assert server.most_open == 2


@pytest.mark.parametrize(
    ("timeout", "within", "error"),
    [
        (httpx.Timeout(5.0, pool=0.1), None, APITimeoutError),
        # The pool timeout (5 s) is not what ends it: the call's deadline is nearer.
        (TIMEOUT, 0.1, OutOfTime),
    ],
    ids=["pool-timeout", "deadline"],
)
async def test_no_free_connection_in_time_is_a_pool_timeout_that_sent_nothing(
    raw_server: Callable[[Handler], Awaitable[RawServer]],
    timeout: httpx.Timeout,
    within: float | None,
    error: type[Exception],
) -> None:
    release = asyncio.Event()

    def held(state: RawServer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await state.read_request(reader)
            await release.wait()
            writer.write(OK)
            await writer.drain()

        return handle

    server = await start_with(raw_server, held)
    backend = NativeBackend(max_connections=1)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(get, backend, server.url)
            await asyncio.sleep(0.05)
            with anyio.fail_after(2), pytest.raises(error) as caught:
                await backend.request(
                    "GET",
                    server.url,
                    headers={},
                    content=None,
                    timeout=timeout,
                    limit=LIMIT,
                    within=within,
                )
            release.set()
    finally:
        await backend.aclose()
    assert getattr(caught.value, "request_sent", None) is False
    assert len(server.requests) == 1


async def test_the_deadline_ends_an_answer_that_trickles_in_and_drops_its_connection(
    raw_server: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    # Each byte comes well within the read timeout, so only the call's deadline (``within``,
    # a time for the whole exchange) can end it; no cancel scope is involved.
    def trickling(state: RawServer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await state.read_request(reader)
            try:
                for byte in OK:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.02)
            except ConnectionError:
                state.closed_by_client += 1  # hung up on mid-answer
                return
            await state.read_request(reader)  # returns when the client hangs up

        return handle

    server = await start_with(raw_server, trickling)
    backend = NativeBackend(max_connections=4)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        with anyio.fail_after(5), pytest.raises(OutOfTime) as caught:
            await backend.request(
                "GET",
                server.url,
                headers={},
                content=None,
                timeout=httpx.Timeout(5.0, read=0.1),
                limit=LIMIT,
                within=0.2,
            )
        took = loop.time() - started
        await asyncio.sleep(0.05)
    finally:
        await backend.aclose()
    assert caught.value.request_sent is True
    assert 0.2 <= took < 0.7, "ended at the deadline, long before the answer (0.76 s)"
    assert server.closed_by_client == 1, "a connection cut mid-answer is never reused"


@pytest.mark.parametrize(
    "answer",
    [b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\ncut"],
    ids=["not-http", "cut-short"],
)
async def test_a_broken_answer_is_a_lost_connection_after_sending(
    raw_server: Callable[[Handler], Awaitable[RawServer]], answer: bytes
) -> None:
    server = await start_with(raw_server, answering(answer, close_after=True))
    backend = NativeBackend(max_connections=4)
    try:
        with pytest.raises(APIConnectionError) as caught:
            await get(backend, server.url)
    finally:
        await backend.aclose()
    assert caught.value.request_sent is True


@pytest.fixture
def local_ca(monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A CA the native backend trusts in this test (instead of the system's)."""
    ca = trustme.CA()

    def trusting() -> ssl.SSLContext:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        return context

    monkeypatch.setattr(native_backend, "tls_context", trusting)
    return ca


async def tls_server(ca: trustme.CA, name: str, names_seen: list[str | None]) -> asyncio.Server:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)

    def sni(_socket: ssl.SSLObject, server_name: str | None, _context: ssl.SSLContext) -> None:
        names_seen.append(server_name)

    context.sni_callback = sni

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(OK)
                await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)


async def test_https_is_verified_and_names_the_host(local_ca: trustme.CA) -> None:
    names: list[str | None] = []
    server = await tls_server(local_ca, "localhost", names)
    port = server.sockets[0].getsockname()[1]
    backend = NativeBackend(max_connections=2)
    try:
        assert await get(backend, f"https://localhost:{port}/x") == b"ok"
        assert await get(backend, f"https://localhost:{port}/y") == b"ok"
    finally:
        await backend.aclose()
        server.close()
    assert names == ["localhost"]  # SNI sent, and the one connection reused


async def test_a_certificate_for_another_host_is_refused_before_sending(
    local_ca: trustme.CA,
) -> None:
    names: list[str | None] = []
    server = await tls_server(local_ca, "elsewhere.test", names)
    port = server.sockets[0].getsockname()[1]
    backend = NativeBackend(max_connections=2)
    try:
        with pytest.raises(APIConnectionError) as caught:
            await get(backend, f"https://localhost:{port}/x")
    finally:
        await backend.aclose()
        server.close()
    assert caught.value.request_sent is False
    assert "certificate" in str(caught.value).lower()


class FakeTransport(asyncio.Transport):
    """Just enough transport to ask a connection whether it can be reused."""

    def __init__(self) -> None:
        super().__init__()
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


@pytest.mark.parametrize("ending", ["eof", "closing"])
async def test_a_connection_the_server_is_ending_is_never_handed_out(ending: str) -> None:
    """Between the server's FIN (or a transport already closing) and connection_lost there is
    a window of a loop iteration or more; a connection in it must not carry a request that
    would then be reported as maybe-sent."""
    connection = Connection(asyncio.get_running_loop())
    transport = FakeTransport()
    connection.connection_made(transport)
    fresh = connection.usable
    if ending == "eof":
        keep_open = connection.eof_received()
        assert keep_open is False
        transport.close()  # what asyncio does when eof_received() says not to keep it open
    else:
        transport.closing = True
    ending_now = connection.usable
    assert fresh
    assert not ending_now
    with pytest.raises(ConnectionLost) as caught:
        await connection.exchange(b"GET / HTTP/1.1\r\n\r\n", ResponseReader("GET", 10), None)
    assert caught.value.answered is False
