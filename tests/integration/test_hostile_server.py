"""The client against a hostile server on a real loopback socket: answers that are huge, deep,
slow, wrongly typed or gzip bombs. Each ends in a typed error, and memory stays bounded while
the client reads them (the server, in this process too, streams its answers in 1 MiB pieces)."""

from __future__ import annotations

import base64
import json
import struct
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest

from speedpix_async import (
    APITimeoutError,
    AsyncPortrait,
    AsyncSpeedPix,
    OutcomeUnknownError,
    PortraitOutcomeTimeoutError,
    PortraitTimeoutError,
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
        self.status = 200
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
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        try:
            async for chunk in self.body():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:  # the client hung up, as it should
            return
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[tuple[Hostile, str]]:
    app = Hostile()
    with AppServer(app) as server:
        yield app, server.endpoint


@pytest.fixture
def hostile(hostile_server: tuple[Hostile, str]) -> Iterator[tuple[Hostile, str]]:
    app, _ = hostile_server
    yield hostile_server
    app.status, app.headers = 200, []


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


# ---------------------------------------------------------------------- AI Portrait answers


def portrait_ok(data: Any) -> Body:
    return wrong({"code": "OK", "message": "success", "request_id": "r-1", "data": data})


def _png_header(width: int, height: int) -> bytes:
    header = struct.pack(">II", width, height) + b"\x08\x02\x00\x00\x00"
    chunk = b"IHDR" + header
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )


CUT_PICTURES = {
    # A 20000×20000 PNG cut after 200 bytes: its header is intact, its end is missing.
    "png": (_png_header(20_000, 20_000) + b"\0" * 200)[:200],
    "jpeg": b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x03" + b"\x01" * 100,
    "webp": b"RIFF" + (5000).to_bytes(4, "little") + b"WEBPVP8L" + b"\0" * 40,
}


@pytest.mark.parametrize("kind", sorted(CUT_PICTURES))
async def test_a_created_picture_cut_short_is_refused(
    hostile: tuple[Hostile, str], kind: str
) -> None:
    app, endpoint = hostile
    app.body = portrait_ok({"image": base64.b64encode(CUT_PICTURES[kind]).decode()})
    before = app.requests
    async with AsyncPortrait(app_id="a", token="t", host=endpoint) as portrait:
        with pytest.raises(ResponseValidationError, match="cut short") as caught:
            await portrait.create("https://photos.test/t.jpg", model_id="m-1")
    assert caught.value.request_id == "r-1"
    assert app.requests - before == 1, "a create is never sent twice"


@pytest.mark.parametrize("job_id", [7.9, True, -5, 2**40, "7", None])
async def test_a_train_answer_with_a_bad_job_id_is_refused_not_coerced(
    hostile: tuple[Hostile, str], job_id: Any
) -> None:
    app, endpoint = hostile
    app.body = portrait_ok({"job_id": job_id, "model_id": "m-1"})
    before = app.requests
    async with AsyncPortrait(app_id="a", token="t", host=endpoint) as portrait:
        with pytest.raises(ResponseValidationError, match="job_id"):
            await portrait.train(["https://photos.test/a.jpg"])
    assert app.requests - before == 1, "a train is never sent twice"


JOB_RESULTS = {
    "nested 200,000 deep": ("[" * 200_000 + "]" * 200_000, "nested more than"),
    "a model id that is a number": (json.dumps({"model_id": 42}), "model_id is 42"),
}


@pytest.mark.parametrize("case", sorted(JOB_RESULTS))
async def test_a_hostile_job_result_is_a_typed_error(
    hostile: tuple[Hostile, str], case: str
) -> None:
    app, endpoint = hostile
    result, fragment = JOB_RESULTS[case]
    app.body = portrait_ok({"job": {"state": 2, "message": "success", "Result": result}})
    async with AsyncPortrait(app_id="a", token="t", host=endpoint) as portrait:
        with pytest.raises(ResponseValidationError, match=fragment):
            await portrait.jobs.get(7)
        with pytest.raises(ResponseValidationError, match=fragment):
            await portrait.jobs.wait(7, timeout=5)


# ---------------------------------------------------------------------- refused submits


@pytest.mark.parametrize("status", [429, 503])
async def test_a_submit_refused_until_the_deadline_is_not_created_not_unknown(
    hostile: tuple[Hostile, str], status: int
) -> None:
    app, endpoint = hostile
    app.status, app.headers = status, [(b"retry-after", b"0")]
    app.body = wrong({"status": 20, "errCode": "Throttling", "errMessage": "busy"})
    policy = RetryPolicy(max_retries=100, initial_delay=0.2, max_delay=0.2, jitter=0.0)
    async with AsyncSpeedPix(
        "hostile-key", "hostile-secret", endpoint=endpoint, retry_policy=policy
    ) as client:
        with pytest.raises(PredictionTimeoutError) as caught:
            await client.run("wf", {}, timeout=1.0)
    error = caught.value
    assert not isinstance(error, SubmitOutcomeUnknownError), "every answer was a refusal"
    assert error.task_id is None
    assert "no task was created" in str(error)
    assert "safe to submit again" in str(error)
    assert isinstance(error.__cause__, SpeedPixError)
    assert error.__cause__.status_code == status


async def test_a_portrait_call_is_bounded_by_its_timeout_against_a_trickling_server(
    hostile: tuple[Hostile, str],
) -> None:
    app, endpoint = hostile
    app.body, app.headers = trickle, []
    before = app.requests
    # fail_after only guards the test run: without the deadline each call would never end.
    with anyio.fail_after(30):
        async with AsyncPortrait(app_id="a", token="t", host=endpoint) as portrait:
            started = anyio.current_time()
            with pytest.raises(PortraitOutcomeTimeoutError) as caught:
                await portrait.create("https://photos.test/t.jpg", model_id="m-1", timeout=1.0)
            assert anyio.current_time() - started < 2.0
            assert caught.value.operation == "create"
            assert isinstance(caught.value, OutcomeUnknownError), "the portrait may exist"
            assert app.requests - before == 1, "never sent twice"
            with pytest.raises(PortraitTimeoutError) as checked:
                await portrait.check_images(["https://photos.test/a.jpg"], timeout=1.0)
            assert not isinstance(checked.value, OutcomeUnknownError), "a check creates nothing"
