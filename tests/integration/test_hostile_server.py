"""The client against a hostile server on a real loopback socket: answers that are huge, deep,
slow, wrongly typed or gzip bombs. Each ends in a typed error, and memory stays bounded while
the client reads them (the server, in this process too, streams its answers in 1 MiB pieces)."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest

from speedpix_async import (
    APITimeoutError,
    AsyncPortrait,
    AsyncSpeedPix,
    PredictionTimeoutError,
    ResponseValidationError,
    RetryPolicy,
    SpeedPixError,
    SubmitOutcomeUnknownError,
)
from speedpix_async.emulator._server import AppServer
from tests.unit.test_hostile_answers import MIB, gzip_bomb

pytestmark = [pytest.mark.loopback, pytest.mark.backends]

#: What the client may hold while refusing any of these answers (its cap is 8 MiB for SpeedPix
#: and 32 MiB for AI Portrait envelopes; the rest is the server's own 1 MiB pieces and slack).
MEMORY_BOUND = 48 * MIB

Body = Callable[[], AsyncIterator[bytes]]


BOMB = gzip_bomb(1 << 30)  # about 1 MiB on the wire, 1 GiB inflated


async def huge() -> AsyncIterator[bytes]:
    yield b'{"status":10,"data":{"taskId":"t-1","status":"running","message":"'
    for _ in range(100):  # 100 MiB of text inside a string
        yield b"x" * MIB
    yield b'"}}'


async def deep() -> AsyncIterator[bytes]:
    depth = 200_000
    yield b'{"status":10,"data":{"taskId":"t-1","status":"running","state":'
    yield b"[" * depth + b"]" * depth
    yield b"}}"


async def bomb() -> AsyncIterator[bytes]:
    for start in range(0, len(BOMB), MIB):
        yield BOMB[start : start + MIB]


async def stalled() -> AsyncIterator[bytes]:
    yield b'{"status":10,'
    await anyio.sleep(3600)  # headers sent, then nothing


async def trickle() -> AsyncIterator[bytes]:
    # One byte every 50 ms, forever: no single read ever times out.
    yield b'{"status":10,"data":{"taskId":"t-1","status":"running","message":"'
    while True:
        await anyio.sleep(0.05)
        yield b"x"


def wrong(document: Any) -> Body:
    async def body() -> AsyncIterator[bytes]:
        yield json.dumps(document).encode()

    return body


class Hostile:
    """An ASGI app answering every request with ``self.body`` (and ``self.headers``)."""

    def __init__(self) -> None:
        self.body: Body = wrong({})
        self.headers: list[tuple[bytes, bytes]] = []
        self.requests = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        self.requests += 1
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"application/json"), *self.headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        try:
            async for chunk in self.body():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:  # the client hung up, as it should
            return
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[Hostile, str]]:
    app = Hostile()
    with AppServer(app) as server:
        yield app, server.endpoint


def speedpix(endpoint: str, **kwargs: Any) -> AsyncSpeedPix:
    return AsyncSpeedPix(
        "hostile-key",
        "hostile-secret",
        endpoint=endpoint,
        retry_policy=RetryPolicy(max_retries=1, initial_delay=0.0, max_delay=0.0, jitter=0.0),
        **kwargs,
    )


async def bounded(call: Callable[[], Any]) -> tuple[BaseException, int]:
    """Run ``call`` expecting an error; return it with the peak memory allocated meanwhile."""
    tracemalloc.start()
    try:
        try:
            await call()
        except BaseException as exc:
            caught = exc
        else:  # pragma: no cover - the assertion below reports it
            raise AssertionError("the hostile answer was accepted")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return caught, peak


SCENARIOS = [
    ("huge", huge, [], ResponseValidationError, "larger than"),
    ("deep", deep, [], ResponseValidationError, "nested"),
    ("gzip bomb", bomb, [(b"content-encoding", b"gzip")], ResponseValidationError, "larger than"),
    (
        "status as a string",
        wrong({"status": "10", "data": {}}),
        [],
        ResponseValidationError,
        "$.status",
    ),
    (
        "images as a string",
        wrong(
            {
                "status": 10,
                "data": {"taskId": "t-1", "status": "succeeded", "images": "http://x/a.png"},
            }
        ),
        [],
        ResponseValidationError,
        "images",
    ),
]


@pytest.mark.parametrize(
    ("body", "headers", "expected", "fragment"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
async def test_a_poll_gets_a_typed_error_in_bounded_memory(
    hostile: tuple[Hostile, str],
    body: Body,
    headers: list[tuple[bytes, bytes]],
    expected: type[SpeedPixError],
    fragment: str,
) -> None:
    app, endpoint = hostile
    app.body, app.headers = body, headers
    async with speedpix(endpoint) as client:
        error, peak = await bounded(lambda: client.predictions.result("t-1"))
    assert type(error) is expected, repr(error)
    assert fragment in str(error)
    assert peak < MEMORY_BOUND, f"peak {peak / MIB:.1f} MiB"


@pytest.mark.parametrize(
    ("body", "headers"), [(huge, []), (bomb, [(b"content-encoding", b"gzip")])]
)
async def test_a_submit_that_gets_a_monster_is_an_unknown_outcome_not_resent(
    hostile: tuple[Hostile, str], body: Body, headers: list[tuple[bytes, bytes]]
) -> None:
    app, endpoint = hostile
    app.body, app.headers = body, headers
    before = app.requests
    async with speedpix(endpoint) as client:
        error, peak = await bounded(lambda: client.run("wf", {}, wait=False))
    assert type(error) is SubmitOutcomeUnknownError, repr(error)
    assert app.requests - before == 1, "a submit whose answer was unreadable is never resent"
    assert peak < MEMORY_BOUND


async def test_a_task_id_with_a_line_break_is_a_response_error(
    hostile: tuple[Hostile, str],
) -> None:
    app, endpoint = hostile
    app.body = wrong({"status": 10, "data": {"taskId": "t-1\r\nX-Evil: 1", "status": "waiting"}})
    app.headers = []
    async with speedpix(endpoint) as client:
        with pytest.raises(ResponseValidationError, match="is not a task id"):
            await client.run("wf", {}, wait=False)


async def test_a_server_that_stalls_mid_answer_is_a_timeout(hostile: tuple[Hostile, str]) -> None:
    app, endpoint = hostile
    app.body, app.headers = stalled, []
    async with speedpix(endpoint, timeout=httpx.Timeout(5.0, read=0.3)) as client:
        with pytest.raises(APITimeoutError, match="timed out waiting for the response"):
            await client.predictions.get("t-1")


async def test_a_trickling_server_is_stopped_by_the_calls_deadline(
    hostile: tuple[Hostile, str],
) -> None:
    app, endpoint = hostile
    app.body, app.headers = trickle, []
    # fail_after only guards the test run: without the deadline it would wait forever.
    with anyio.fail_after(60):
        async with speedpix(endpoint) as client:
            with pytest.raises(PredictionTimeoutError) as caught:
                await client.predictions.wait("t-1", timeout=1.0)
    assert caught.value.task_id == "t-1"


async def test_ai_portrait_gets_the_same_treatment(hostile: tuple[Hostile, str]) -> None:
    app, endpoint = hostile
    app.body, app.headers = bomb, [(b"content-encoding", b"gzip")]
    async with AsyncPortrait(app_id="a", token="t", host=endpoint) as portrait:
        error, peak = await bounded(lambda: portrait.jobs.get(1))
    assert type(error) is ResponseValidationError, repr(error)
    assert peak < MEMORY_BOUND
