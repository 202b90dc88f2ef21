"""Answers no honest server sends — huge, inflating, deeply nested, wrongly typed — become typed
errors with bounded memory, on every path (a poll, a submit, AI Portrait)."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pytest
import respx

from speedpix_async import (
    AsyncPortrait,
    AsyncSpeedPix,
    OutcomeUnknownError,
    ResponseValidationError,
    RetryPolicy,
    SubmitOutcomeUnknownError,
)

BASE = "https://speedpix.test"
PROGRESS = f"{BASE}/scc/comfy_get_progress"
RESULT = f"{BASE}/scc/comfy_get_result"
PROMPT = f"{BASE}/scc/comfy_prompt"
PORTRAIT = "https://portrait.test"
MIB = 1 << 20


@pytest.fixture
async def sp() -> AsyncIterator[AsyncSpeedPix]:
    retry = RetryPolicy(max_retries=2, initial_delay=0.0, max_delay=0.0, jitter=0.0)
    async with AsyncSpeedPix("unit-key", "unit-secret", endpoint=BASE, retry_policy=retry) as c:
        yield c


def progress_body(**data: Any) -> dict[str, Any]:
    return {"status": 10, "data": {"taskId": "t-1", "status": "running", **data}}


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body of about ``inflated / 1000`` bytes that inflates to ``inflated`` zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    parts = [compressor.compress(block) for _ in range(inflated // MIB)]
    parts.append(compressor.flush())
    return b"".join(parts)


def deep(depth: int) -> bytes:
    return b'{"status":10,"data":{"taskId":"t-1","state":' + b"[" * depth + b"]" * depth + b"}}"


class _Streamed(httpx.AsyncByteStream):
    """A body produced chunk by chunk (so only what the client keeps stays in memory)."""

    def __init__(self, head: bytes, filler: bytes, count: int, tail: bytes) -> None:
        self.parts = (head, filler, count, tail)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head, filler, count, tail = self.parts
        yield head
        for _ in range(count):
            yield filler
        yield tail


def huge_envelope(megabytes: int) -> httpx.Response:
    head = b'{"status":10,"data":{"taskId":"t-1","status":"running","message":"'
    return httpx.Response(
        200,
        headers={"content-type": "application/json"},
        stream=_Streamed(head, b"a" * MIB, megabytes, b'"}}'),
    )


async def peak_while(call: Any) -> tuple[BaseException | None, int]:
    """The error ``call()`` raised (if any) and the peak traced memory while it ran."""
    tracemalloc.start()
    try:
        try:
            await call()
        except Exception as exc:
            error: BaseException | None = exc
        else:
            error = None
        return error, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@respx.mock
async def test_a_huge_envelope_is_refused_at_the_cap_without_buffering_it(
    sp: AsyncSpeedPix,
) -> None:
    route = respx.post(PROGRESS).mock(side_effect=lambda request: huge_envelope(200))
    error, peak = await peak_while(lambda: sp.predictions.progress("t-1"))
    assert isinstance(error, ResponseValidationError)
    assert error.over_limit
    assert "larger than" in str(error)
    assert peak < 40 * MIB, f"peak {peak / MIB:.0f} MiB"
    assert route.call_count == 1  # a body over the cap is not fetched again


@respx.mock
async def test_a_gzip_bomb_is_stopped_while_inflating(sp: AsyncSpeedPix) -> None:
    bomb = gzip_bomb(512 * MIB)
    respx.post(PROGRESS).mock(
        return_value=httpx.Response(
            200,
            headers={"content-encoding": "gzip", "content-type": "application/json"},
            stream=_Streamed(b"", bomb, 1, b""),
        )
    )
    error, peak = await peak_while(lambda: sp.predictions.progress("t-1"))
    assert isinstance(error, ResponseValidationError)
    assert error.over_limit
    assert peak < 40 * MIB, f"peak {peak / MIB:.0f} MiB"


@respx.mock
async def test_a_small_gzip_answer_still_reads(sp: AsyncSpeedPix) -> None:
    body = gzip.compress(json.dumps(progress_body(progress=0.5)).encode())
    respx.post(PROGRESS).mock(
        return_value=httpx.Response(
            200, headers={"content-encoding": "gzip"}, stream=_Streamed(b"", body, 1, b"")
        )
    )
    report = await sp.predictions.progress("t-1")
    assert report.progress == 0.5


@respx.mock
@pytest.mark.parametrize("depth", [200, 100_000])
async def test_deep_nesting_is_a_response_error_not_a_recursion_error(
    sp: AsyncSpeedPix, depth: int
) -> None:
    respx.post(PROGRESS).mock(return_value=httpx.Response(200, content=deep(depth)))
    with pytest.raises(ResponseValidationError, match="nested") as caught:
        await sp.predictions.progress("t-1")
    assert caught.value.over_limit


@respx.mock
@pytest.mark.parametrize("body", ["deep", "huge"])
async def test_an_unreadable_answer_to_a_submit_is_an_unknown_outcome(
    sp: AsyncSpeedPix, body: str
) -> None:
    route = respx.post(PROMPT).mock(
        side_effect=lambda request: (
            httpx.Response(200, content=deep(50_000)) if body == "deep" else huge_envelope(20)
        )
    )
    with pytest.raises(SubmitOutcomeUnknownError, match="could not be read"):
        await sp.predictions.create("wf", {})
    assert route.call_count == 1


@respx.mock
async def test_portrait_answers_are_capped_too() -> None:
    route = respx.post(f"{PORTRAIT}/api/v1/aigc_images/create").mock(
        side_effect=lambda request: httpx.Response(
            200,
            stream=_Streamed(b'{"code":"OK","data":{"image":"', b"A" * MIB, 64, b'"}}'),
        )
    )
    async with AsyncPortrait(PORTRAIT, "app", "token") as portrait:
        with pytest.raises(OutcomeUnknownError, match="larger than"):
            await portrait.create("https://x.test/t.jpg", model_id="m")
    assert route.call_count == 1


@respx.mock
@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"status": "20", "data": {"taskId": "t-1"}}, r"status"),
        ({"status": True, "data": {"taskId": "t-1"}}, r"status"),
        ({"data": {"taskId": "t-1", "status": "running"}}, r"status"),
    ],
)
async def test_an_envelope_status_of_the_wrong_type_is_not_success(
    sp: AsyncSpeedPix, body: dict[str, Any], match: str
) -> None:
    respx.post(PROGRESS).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ResponseValidationError, match=match):
        await sp.predictions.progress("t-1")


@respx.mock
@pytest.mark.parametrize("task_id", ["t-1\r\nX-Injected: 1", "", " t-1", 12.5])
async def test_a_bad_task_id_from_the_server_is_a_response_error(
    sp: AsyncSpeedPix, task_id: Any
) -> None:
    respx.post(PROMPT).mock(
        return_value=httpx.Response(200, json={"status": 10, "data": {"taskId": task_id}})
    )
    with pytest.raises(ResponseValidationError, match="taskId"):
        await sp.predictions.create("wf", {})


@attrs.frozen
class Typed:
    images: list[str]


@respx.mock
async def test_a_string_where_a_list_belongs_is_refused(sp: AsyncSpeedPix) -> None:
    respx.post(PROMPT).mock(
        return_value=httpx.Response(200, json={"status": 10, "data": {"taskId": "t-1"}})
    )
    respx.post(PROGRESS).mock(
        return_value=httpx.Response(200, json=progress_body(status="succeeded", progress=1))
    )
    respx.post(RESULT).mock(
        return_value=httpx.Response(
            200,
            json={
                "status": 10,
                "data": {
                    "taskId": "t-1",
                    "status": "succeeded",
                    "result": {"images": "http://x.test/a.png"},
                },
            },
        )
    )
    with pytest.raises(ResponseValidationError, match=r"images"):
        await sp.run("wf", {}, output_type=Typed)
