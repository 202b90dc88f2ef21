"""The HTTP backends (DESIGN 4.8): choosing one, and the behaviours that live inside a backend —
object-store traffic, content-encoding, connection failures, proxies, closing — checked on
every backend over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import tracemalloc
import types
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx

from speedpix_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncPortrait,
    AsyncSpeedPix,
    ClientClosedError,
    ConfigurationError,
    InputError,
    PermissionDeniedError,
    RetryPolicy,
    SpeedPixError,
)
from speedpix_async._core.backends import HTTPX_MOCKERS, open_backend
from speedpix_async._core.http import Response
from speedpix_async.emulator import Emulator, LoopbackServer
from speedpix_async.emulator._server import AppServer
from tests.conftest import FAST_RETRY
from tests.unit.test_hostile_answers import MIB, gzip_bomb

pytestmark = [pytest.mark.loopback, pytest.mark.backends]

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\0" * 64


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------- choosing


def test_an_unknown_backend_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="'auto', 'httpx', 'aiohttp'"):
        AsyncSpeedPix("k", "s", http_backend="requests")  # type: ignore[arg-type]


def test_a_bad_environment_choice_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEEDPIX_HTTP_BACKEND", "curl")
    with pytest.raises(ConfigurationError, match="SPEEDPIX_HTTP_BACKEND"):
        AsyncSpeedPix("k", "s")


def test_aiohttp_cannot_carry_an_injected_httpx_transport() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with pytest.raises(ConfigurationError, match="http_backend='httpx'"):
        AsyncSpeedPix("k", "s", transport=transport, http_backend="aiohttp")
    with pytest.raises(ConfigurationError, match="http_backend='httpx'"):
        AsyncPortrait("h.example", "id", "token", transport=transport, http_backend="aiohttp")


async def test_the_environment_choice_yields_to_an_injected_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPEEDPIX_HTTP_BACKEND", "aiohttp")
    emulator = Emulator()
    async with emulator.client() as client:
        assert client.http_backend == "httpx"
        assert (await client.run("wf-echo", {"a": 1}))["echo"]["a"] == 1


async def test_auto_picks_native_on_asyncio(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in HTTPX_MOCKERS:  # as in a program that loads no httpx mock
        monkeypatch.delitem(sys.modules, name, raising=False)
    async with server.client(http_backend="auto") as client:
        assert client.http_backend == "auto"  # undecided until the first request
        assert (await client.run("wf-echo", {"a": 1}))["echo"]["a"] == 1
        assert client.http_backend == "native"


@pytest.mark.parametrize("mocker", HTTPX_MOCKERS)
async def test_auto_keeps_to_httpx_while_an_httpx_mock_library_is_loaded(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, mocker: str
) -> None:
    for name in HTTPX_MOCKERS:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, mocker, types.ModuleType(mocker))
    async with server.client(http_backend="auto") as client:
        assert (await client.run("wf-echo", {"a": 1}))["echo"]["a"] == 1
        assert client.http_backend == "httpx"


async def test_a_respx_mock_applies_to_a_client_built_with_no_backend_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SPEEDPIX_HTTP_BACKEND", raising=False)
    answer = {"taskId": "t-1", "status": "running", "progress": 0.25}
    with respx.mock(assert_all_called=True) as router:
        router.post("https://speedpix.test/scc/comfy_get_progress").respond(
            json={"status": 10, "apiInvokeId": "i-1", "data": answer}
        )
        async with AsyncSpeedPix("k", "s", endpoint="https://speedpix.test") as client:
            progress = await client.predictions.progress("t-1")
            assert client.http_backend == "httpx"
    assert progress.progress == 0.25


def test_a_client_built_with_no_backend_choice_uses_native_on_asyncio(
    server: LoopbackServer,
) -> None:
    """The default as a program that never heard of backends gets it: a fresh interpreter
    (no respx loaded), no ``http_backend=``, no ``SPEEDPIX_HTTP_BACKEND``. API calls alone
    never load aiohttp (the native backend keeps it for files and proxies)."""
    program = (
        "import asyncio, sys\n"
        "from speedpix_async import AsyncSpeedPix\n"
        "async def main():\n"
        "    async with AsyncSpeedPix(sys.argv[1], sys.argv[2], endpoint=sys.argv[3]) as c:\n"
        "        before = c.http_backend\n"
        "        await c.run('wf-echo', {'a': 1})\n"
        "        print(before, c.http_backend, 'aiohttp' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SPEEDPIX_HTTP_BACKEND"}
    emulator = server.emulator
    done = subprocess.run(
        [sys.executable, "-c", program, emulator.app_key, emulator.app_secret, server.endpoint],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["auto", "native", "False"]


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed")
def test_the_native_backend_runs_on_uvloop(server: LoopbackServer, tmp_path: Path) -> None:
    """uvloop's transports are not asyncio.Transport subclasses; the native backend's
    connections (and aiohttp's, for the file) must work on them too. (anyio's pytest plugin
    keeps one asyncio runner per session, so this test starts uvloop itself.)"""
    import uvloop

    picture = tmp_path / "in.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    emulator = server.emulator

    async def main() -> tuple[str, str, Any]:
        async with AsyncSpeedPix(
            emulator.app_key, emulator.app_secret, endpoint=server.endpoint, http_backend="native"
        ) as client:
            uploaded = await client.files.create(picture)
            output = await client.run("wf-echo", {"a": 1})
            return (
                type(asyncio.get_running_loop()).__module__,
                client.http_backend,
                (
                    output["echo"]["a"],
                    uploaded.access_url.startswith("http"),
                ),
            )

    loop_module, backend, (echoed, uploaded) = uvloop.run(main())
    assert loop_module.startswith("uvloop")
    assert backend == "native"
    assert echoed == 1
    assert uploaded


# ---------------------------------------------------------------------- on every backend


@pytest.fixture
async def client(server: LoopbackServer, http_backend: str) -> AsyncIterator[AsyncSpeedPix]:
    async with server.client(retry_policy=FAST_RETRY) as c:
        assert c.http_backend == http_backend
        yield c


@contextlib.asynccontextmanager
async def bare_uploads(
    server: LoopbackServer, key: str
) -> AsyncIterator[Callable[[int, AsyncIterable[bytes]], Awaitable[Response]]]:
    """A backend of the configured kind (no client around it) and a function that PUTs a
    body of a declared length to a presigned URL of ``key`` through it."""
    url, _ = server.emulator.store.presign(
        "PUT", key, base_url=server.endpoint, ttl=60, content_type="image/png"
    )
    backend = open_backend(None, timeout=httpx.Timeout(10.0), max_connections=4)

    async def put(length: int, source: AsyncIterable[bytes]) -> Response:
        return await backend.upload(
            "PUT",
            url,
            headers={"content-type": "image/png", "content-length": str(length)},
            body=source,
            timeout=httpx.Timeout(10.0),
            limit=1 << 16,
        )

    try:
        yield put
    finally:
        await backend.aclose()


async def test_an_upload_whose_source_ends_slowly_keeps_its_connection(
    server: LoopbackServer, http_backend: str
) -> None:
    """A file source checks for bytes past its size after the last chunk (a read in a worker
    thread); the server may answer before that. The connection must still go back to the pool:
    aiohttp drops it if its body writer is still running when the answer has been read."""
    body = PNG + os.urandom(30_000)

    async def source() -> AsyncIterator[bytes]:
        yield body
        await anyio.sleep(0.1)  # the end-of-file check, slower than the server's answer

    before = server.emulator.stats.snapshot()["client_connections"]
    async with bare_uploads(server, "tests/slow-end.png") as put:
        for _ in range(4):
            answer = await put(len(body), source())
            assert answer.status_code == 200
    assert server.emulator.stats.snapshot()["client_connections"] - before == 1


@pytest.mark.parametrize("extra", [b"", b"one byte too many"])
async def test_a_body_that_fails_or_runs_on_after_its_declared_length_is_an_error(
    server: LoopbackServer, http_backend: str, extra: bytes
) -> None:
    """A body's source checks for more bytes after the declared ones (a file that grew); the
    aiohttp backend ends the request body at the declared length, so the check's failure —
    or bytes past it — must still reach the caller."""
    if extra and http_backend == "httpx":
        pytest.skip("h11 itself refuses bytes past Content-Length (no source of ours sends any)")
    body = PNG + os.urandom(50_000)

    async def source() -> AsyncIterator[bytes]:
        yield body[:20_000]
        yield body[20_000:]
        if extra:
            yield extra
        else:
            raise InputError("the file grew while it was read")

    async with bare_uploads(server, "tests/grown.png") as put:
        with pytest.raises(SpeedPixError, match=r"grew|longer than its declared"):
            await put(len(body), source())


async def test_files_go_up_and_come_down_byte_for_byte(
    client: AsyncSpeedPix, server: LoopbackServer, tmp_path: Path
) -> None:
    path = tmp_path / "big.png"
    content = PNG + os.urandom(3 << 20)  # several chunks each way
    path.write_bytes(content)
    uploaded = await client.files.create(path)
    stats = server.emulator.stats.snapshot()
    assert stats["bytes_uploaded"] == len(content)
    output = client.files.from_url(uploaded.access_url)
    assert await output.read() == content
    saved = await output.save(tmp_path / "copy.png")
    assert Path(saved).read_bytes() == content
    pieces = [piece async for piece in output.aiter_bytes()]
    assert b"".join(pieces) == content


async def test_no_log_line_shows_a_signed_query(
    client: AsyncSpeedPix, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, the HTTP library's, asyncio's
    uploaded = await client.files.create(PNG)
    await client.files.from_url(uploaded.access_url).save(tmp_path / "copy.png")
    output = await client.run("wf-echo", {"image": tmp_path / "copy.png"})
    signature = uploaded.access_url.split("Signature=", 1)[1]
    assert caplog.records, "debug logging was captured"
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert signature not in text
    assert "Signature=" not in text
    assert str(output["echo"]["image"]).startswith("http")


async def test_a_refused_download_is_an_error_without_the_signed_query(
    client: AsyncSpeedPix, tmp_path: Path
) -> None:
    uploaded = await client.files.create(PNG)
    missing = uploaded.access_url.replace(".png", "-other.png")  # the signature no longer fits
    assert "?" in missing
    with pytest.raises(PermissionDeniedError) as caught:
        await client.files.from_url(missing).save(tmp_path / "x.png")
    message = str(caught.value)
    assert missing.split("?", 1)[1] not in message
    assert not (tmp_path / "x.png").exists()


class Gzipped:
    """An ASGI app serving one gzip-encoded file."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.body = gzip.compress(content)
        self.accept_encoding: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        self.accept_encoding.append(headers.get(b"accept-encoding", b"").decode())
        body = self.body
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-encoding", b"gzip"), (b"content-type", b"image/png")],
            }
        )
        for start in range(0, len(body), 65536):
            piece = body[start : start + 65536]
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def gzipped() -> Iterator[tuple[Gzipped, str]]:
    app = Gzipped(PNG + b"abc" * 400_000)
    with AppServer(app) as served:
        yield app, served.endpoint


async def test_saving_a_gzip_bomb_inflates_in_bounded_steps(
    client: AsyncSpeedPix, tmp_path: Path
) -> None:
    size = 128 * MIB
    app = Gzipped(b"")
    app.body = gzip_bomb(size)  # about 128 KiB on the wire
    with AppServer(app) as served:
        output = client.files.from_url(f"{served.endpoint}/bomb.png?sig=1")
        tracemalloc.start()
        try:
            saved = await output.save(tmp_path / "bomb.png")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert Path(saved).stat().st_size == size
    assert peak < 16 * MIB, f"peak {peak / MIB:.1f} MiB while saving"


async def test_a_compressed_download_is_inflated(
    client: AsyncSpeedPix, gzipped: tuple[Gzipped, str], tmp_path: Path
) -> None:
    app, endpoint = gzipped
    output = client.files.from_url(f"{endpoint}/file.png?sig=1")
    assert await output.read() == app.content
    saved = await output.save(tmp_path / "file.png")
    assert Path(saved).read_bytes() == app.content
    assert app.accept_encoding == ["gzip, deflate"] * 2


async def test_an_upload_the_server_stops_reading_is_a_write_timeout(
    http_backend: str, tmp_path: Path
) -> None:
    emulator = Emulator(slow_seconds=3.0)
    # The store sits on the PUT without reading its body: once the socket buffers are full,
    # no write makes progress.
    emulator.faults.script("slow", route="/_store:PUT")
    path = tmp_path / "big.png"
    path.write_bytes(PNG + os.urandom(48 << 20))
    with emulator, emulator.serve() as served:
        async with served.client(
            timeout=httpx.Timeout(10.0, write=0.5), retry_policy=RetryPolicy(max_retries=0)
        ) as client:
            assert client.http_backend == http_backend
            with pytest.raises(APITimeoutError, match="sending the request") as caught:
                await client.files.create(path)
    assert caught.value.request_sent is True
    assert emulator.stats.snapshot()["uploads"] == 0


async def test_a_refused_connection_is_known_unsent(http_backend: str) -> None:
    port = closed_port()
    retry = RetryPolicy(max_retries=2, initial_delay=0.0, max_delay=0.0, jitter=0.0)
    async with AsyncSpeedPix(
        "k", "s", endpoint=f"http://127.0.0.1:{port}", retry_policy=retry
    ) as client:
        assert client.http_backend == http_backend
        with pytest.raises(APIConnectionError) as caught:
            await client.predictions.get("t-1")
    assert caught.value.request_sent is False
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_proxies_come_from_the_environment(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, http_backend: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with server.client(retry_policy=RetryPolicy(max_retries=0)) as client:
        with pytest.raises(APIConnectionError):  # through the (dead) proxy
            await client.run("wf-echo", {"a": 1})
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with server.client() as client:
        assert client.http_backend == http_backend
        assert (await client.run("wf-echo", {"a": 1}))["echo"]["a"] == 1


async def test_a_closed_client_says_so(server: LoopbackServer) -> None:
    client = server.client()
    await client.run("wf-echo", {"a": 1})
    await client.aclose()
    await client.aclose()  # twice is fine
    with pytest.raises(ClientClosedError):
        await client.predictions.get("t-1")


# ---------------------------------------------------------------------- journaled submits


async def test_a_journaled_submit_is_recorded_only_once_its_connection_is_made(
    server: LoopbackServer, http_backend: str, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.journal"
    inputs = [{"value": n} for n in range(6)]
    unreachable = f"http://127.0.0.1:{closed_port()}"
    async with AsyncSpeedPix(
        server.emulator.app_key, server.emulator.app_secret, endpoint=unreachable,
        retry_policy=FAST_RETRY,
    ) as client:  # fmt: skip
        failed = [r async for r in client.run_many("wf-echo", inputs, journal=journal)]
    assert all(isinstance(r.error, APIConnectionError) for r in failed)
    assert all(not r.error.request_sent for r in failed if isinstance(r.error, APIConnectionError))
    assert b'"submit"' not in journal.read_bytes(), "nothing went out, nothing was recorded"

    async with server.client(retry_policy=FAST_RETRY) as client:
        done = [r async for r in client.run_many("wf-echo", inputs, journal=journal)]
        assert client.http_backend == http_backend
    assert all(r.ok for r in done)
    records = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    for index in range(6):
        kinds = [next(k for k in ("submit", "task", "end") if k in r) for r in records
                 if r.get("i") == index]  # fmt: skip
        assert kinds == ["submit", "task", "end"], (index, kinds)
    assert server.emulator.stats.tasks_created == 6


def _open_descriptors_on(path: Path) -> int:
    """How many of this process's file descriptors point at ``path`` (Linux)."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if os.readlink(fd) == str(path):
                count += 1
        except OSError:
            continue
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")
async def test_every_upload_attempt_closes_its_file(
    server: LoopbackServer, http_backend: str, tmp_path: Path
) -> None:
    picture = tmp_path / "big.png"
    picture.write_bytes(PNG + os.urandom(8 * MIB))
    # The store drops the first two PUTs before reading their 8 MiB bodies: each attempt stops
    # mid-body, with its file open, and the next one reads the file again.
    server.emulator.faults.script("reset", route="/_store:PUT", times=2)
    timeout = httpx.Timeout(10.0, write=1.0)
    async with server.client(retry_policy=FAST_RETRY, timeout=timeout) as client:
        uploaded = await client.files.create(picture)
        assert _open_descriptors_on(picture) == 0, "every attempt closed the file it read"
    assert uploaded.size == picture.stat().st_size
    assert server.emulator.stats.snapshot()["faults_injected"]["by_kind"]["reset"] == 2
