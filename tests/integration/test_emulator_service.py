"""The emulator held to the standard of the service (issue "The emulator as a product"): the
fidelity points the vendor SDKs depend on, the limits that make it safe to run beside other
things, and the knobs users' test suites need — each against the emulator in-process and over a
real loopback socket, with raw signed requests where the point is what the server does with
bytes our client would never send."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest

from speedpix_async import (
    AsyncPortrait,
    AsyncSpeedPix,
    CheckCode,
    NotFoundError,
    PollPolicy,
    PortraitInputError,
    PortraitNotFoundError,
    TaskStatus,
)
from speedpix_async._signing import GatewaySigner, PaiSigner
from speedpix_async.emulator import Emulator
from speedpix_async.emulator._app import IN_PROCESS_ENDPOINT
from speedpix_async.emulator._requests import MAX_API_BODY
from speedpix_async.emulator.portrait.faces import FaceReadError, find_faces
from tests.conftest import FAST_RETRY

KEY_A, SECRET_A = "demo-app-key", "demo-app-secret"
KEY_B, SECRET_B = "team-b-key", "team-b-secret"
APP_A, TOKEN_A = "demo-portrait-app-id", "demo-portrait-token"
APP_B, TOKEN_B = "team-b-portrait", "team-b-token"
POLL = PollPolicy(
    min_interval=0.05, max_interval=0.1, fallback_interval=0.05, backoff=1.5, watch_interval=0.05
)


class Site:
    """One emulator reached one way: in-process (ASGI) or over a loopback socket."""

    def __init__(self, emulator: Emulator, base_url: str, transport: Any) -> None:
        self.emulator = emulator
        self.base_url = base_url
        self._transport = transport

    def raw(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, transport=self._transport, timeout=30)

    def speedpix(self, key: str = KEY_A, secret: str = SECRET_A) -> AsyncSpeedPix:
        return AsyncSpeedPix(
            key,
            secret,
            endpoint=self.base_url,
            transport=self._transport,
            retry_policy=FAST_RETRY,
            poll_policy=POLL,
        )

    def portrait(self, app_id: str = APP_A, token: str = TOKEN_A) -> AsyncPortrait:
        return AsyncPortrait(
            self.base_url,
            app_id,
            token,
            transport=self._transport,
            retry_policy=FAST_RETRY,
            poll_policy=POLL,
        )

    def sample(self, name: str) -> str:
        return self.emulator.sample_url(name, self.base_url)

    async def signed(
        self, path: str, body: bytes, *, key: str = KEY_A, secret: str = SECRET_A
    ) -> httpx.Response:
        headers = GatewaySigner(key, secret).sign(method="POST", path=path, body=body).headers
        async with self.raw() as raw:
            return await raw.post(path, content=body, headers=headers)

    async def pai(
        self,
        path: str,
        body: bytes,
        *,
        app_id: str = APP_A,
        token: str = TOKEN_A,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        signed = PaiSigner(app_id, token).sign(method="POST", path=path, body=body).headers
        async with self.raw() as raw:
            return await raw.post(path, content=body, headers={**signed, **(headers or {})})


def _emulator(**kwargs: Any) -> Emulator:
    return Emulator(
        extra_credentials={KEY_B: SECRET_B},
        extra_portrait_credentials={APP_B: TOKEN_B},
        **{"time_scale": 0.01, **kwargs},
    )


@pytest.fixture(params=["in-process", "loopback"])
def where(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def site(where: str) -> Iterator[Site]:
    yield from _site(_emulator(), where)


def _site(emulator: Emulator, where: str) -> Iterator[Site]:
    if where == "in-process":
        yield Site(emulator, IN_PROCESS_ENDPOINT, emulator.transport())
        return
    with emulator.serve() as server:
        yield Site(emulator, server.endpoint, None)


def _envelope(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict)
    return body


# ------------------------------------------------------------------------------ fidelity


async def test_a_checks_inner_request_id_is_the_envelopes(site: Site) -> None:
    body = json.dumps({"action": "AIGCImageCheck", "images": [site.sample("portrait-0-0.png")]})
    answer = _envelope(await site.pai("/api/v1/aigc_images/check", body.encode()))
    assert answer["code"] == "OK"
    assert answer["data"]["request_id"] == answer["request_id"]


async def test_a_missing_template_is_reported_before_an_unknown_model(site: Site) -> None:
    # Request shape before lookups: the template is missing whatever the model id is.
    for model in ({"model_id": "no-such-model"}, {"model_ids": ["no-such-model"]}):
        body = {"action": "AIGCImageCreate", "template_image": "", **model}
        answer = await site.pai("/api/v1/aigc_images/create", json.dumps(body).encode())
        assert answer.status_code == 462
        assert _envelope(answer)["message"] == (
            "Image not provided. Please check the template_image."
        )
    # With a template given, the unknown model is what is wrong.
    body = {"action": "AIGCImageCreate", "template_image": site.sample("template-1.jpg")}
    answer = await site.pai("/api/v1/aigc_images/create", json.dumps(body).encode())
    assert answer.status_code == 462
    assert _envelope(answer)["message"] == "Prompts get error. Please check the model_id."


async def test_the_java_sdks_requests_are_served(site: Site) -> None:
    """What the official Java SDK sends (docs/protocol.md): only one of model_id/model_ids (Gson
    leaves nulls out), a Content-Type on the empty-body job query, and a case-sensitive
    ``Result`` read."""
    photos = [site.sample(f"portrait-2-{n}.jpg") for n in range(4)]
    train = {"action": "AIGCImageTrain", "images": photos}
    trained = _envelope(await site.pai("/api/v1/aigc_images/train", json.dumps(train).encode()))
    job_id, model_id = trained["data"]["job_id"], trained["data"]["model_id"]
    job: dict[str, Any] = {}
    with anyio.fail_after(30):
        while job.get("state") != 2:
            await anyio.sleep(0.05)
            answer = await site.pai(
                f"/api/v1/async_jobs/{job_id}", b"", headers={"content-type": "application/json"}
            )
            assert answer.status_code == 200, answer.text
            job = _envelope(answer)["data"]["job"]
    assert isinstance(job["Result"], str)
    assert json.loads(job["Result"])["model_id"] == model_id
    template = site.sample("template-1.jpg")
    for only in ({"model_id": model_id}, {"model_ids": [model_id]}):
        body = {"action": "AIGCImageCreate", "template_image": template, **only}
        answer = await site.pai("/api/v1/aigc_images/create", json.dumps(body).encode())
        assert answer.status_code == 200, answer.text
        assert base64.b64decode(_envelope(answer)["data"]["image"])[:2] in (b"\xff\xd8", b"\x89P")


async def test_a_host_with_a_trailing_slash_gets_a_404_envelope_that_says_so(site: Site) -> None:
    async with site.raw() as raw:
        answer = await raw.post(site.base_url + "//api/v1/aigc_images/check", content=b"{}")
    assert answer.status_code == 404
    body = _envelope(answer)
    assert body["code"] == "PARAMETER_ERROR"
    assert "trailing '/'" in body["message"]
    assert body["request_id"]


# ------------------------------------------------------------------------------ resource pools


def _queued_view(prediction: Any) -> tuple[int, float]:
    return prediction.queue_position, prediction.eta


@pytest.mark.parametrize("where", ["in-process", "loopback"])
async def test_a_pool_of_capacity_2_queues_the_rest_and_drains(where: str) -> None:
    emulator = _emulator(time_scale=1.0, capacity=2)
    # Long enough that the submits and the first reads (real time passes under a loaded test
    # run) end well before the first two tasks do; "quick" drains the same pool for run_many.
    emulator.register_workflow(
        "slow", lambda inputs, ctx: {"n": inputs["n"]}, duration=1.0, queue_seconds=0.0
    )
    emulator.register_workflow(
        "quick", lambda inputs, ctx: {"n": inputs["n"]}, duration=0.2, queue_seconds=0.0
    )
    for site in _site(emulator, where):
        async with site.speedpix() as client:
            created = [await client.predictions.create("slow", {"n": n}) for n in range(10)]
            first = [await client.predictions.get(p.id) for p in created]
            # Two run, eight wait; each waits behind those submitted before it.
            assert [p.status for p in first[:2]] == [TaskStatus.RUNNING] * 2
            assert all(p.status == TaskStatus.WAITING for p in first[2:])
            assert [p.queue_position for p in first[2:]] == list(range(8))
            # The submit's estimate grows with the queue, a round of 1 s per two tasks ahead
            # (less the time the running ones have already had): 5 s for the last.
            estimates = [p.prediction.estimated_duration or 0.0 for p in created]
            rounds = [n // 2 + 1.0 for n in range(10)]
            assert estimates == [pytest.approx(r, abs=0.3) for r in rounds]
            pairs = zip(estimates[:-2], estimates[2:], strict=True)
            assert all(later > earlier for earlier, later in pairs)
            # The last one, watched as the queue drains: its position and ETA only go down.
            seen = [_queued_view(first[-1])]
            last = first[-1]
            with anyio.fail_after(30):
                while last.status != TaskStatus.SUCCEEDED:
                    await anyio.sleep(0.1)
                    last = await client.predictions.get(last.id)
                    if last.status == TaskStatus.WAITING:
                        seen.append(_queued_view(last))
            positions = [position for position, _ in seen]
            assert positions == sorted(positions, reverse=True)
            assert positions[0] == 7
            assert len(set(positions)) >= 3
            etas = [eta for _, eta in seen]
            assert etas == sorted(etas, reverse=True)

            # run_many through the same pool finishes every input.
            outputs = []
            async for result in client.run_many(
                "quick", ({"n": n} for n in range(10)), concurrency=10
            ):
                assert result.ok, result.error
                outputs.append(result.output["n"])
            assert sorted(outputs) == list(range(10))
    # Never more than two ran at once.
    tasks = [emulator.tasks.get(task_id) for task_id in emulator.tasks.ids()]
    for task in tasks:
        assert task is not None
        running_with = [
            other
            for other in tasks
            if other is not None and other.starts_at <= task.starts_at < other.ends_at
        ]
        assert len(running_with) <= 2


async def test_pools_are_named_by_the_resource_header_and_sized_apart() -> None:
    emulator = _emulator(time_scale=1.0, capacity={"small": 1})
    emulator.register_workflow("slow", lambda inputs, ctx: {}, duration=5, queue_seconds=0.0)
    async with emulator.client(retry_policy=FAST_RETRY) as client:
        small = [
            await client.predictions.create("slow", {}, resource_config_id="small,other")
            for _ in range(3)
        ]
        free = [await client.predictions.create("slow", {}) for _ in range(3)]
        small_now = [await client.predictions.get(p.id) for p in small]
        free_now = [await client.predictions.get(p.id) for p in free]
    assert [p.status for p in small_now] == [
        TaskStatus.RUNNING,
        TaskStatus.WAITING,
        TaskStatus.WAITING,
    ]
    assert [p.queue_position for p in small_now[1:]] == [0, 1]
    assert all(p.status == TaskStatus.RUNNING for p in free_now)  # "default" is unlimited


# ------------------------------------------------------------------------------ estimates


async def test_a_biased_estimate_is_reported_and_the_client_still_finishes(site: Site) -> None:
    site.emulator.register_workflow(
        "timed", lambda inputs, ctx: {"ok": 1}, duration=1.0, queue_seconds=0.0
    )
    late = _emulator(time_scale=0.2, estimate_bias=0.3)
    late.register_workflow("timed", lambda inputs, ctx: {"ok": 1}, duration=1.0, queue_seconds=0.0)
    async with late.client(retry_policy=FAST_RETRY, poll_policy=POLL) as client:
        prediction = await client.predictions.create("timed", {})
        assert prediction.prediction.estimated_duration == pytest.approx(0.2 * 1.3, rel=0.01)
        assert await client.run("timed", {}) == {"ok": 1}
    early = _emulator(time_scale=0.2, estimate_bias=-0.3)
    early.register_workflow("timed", lambda inputs, ctx: {"ok": 1}, duration=1.0, queue_seconds=0.0)
    async with early.client(retry_policy=FAST_RETRY, poll_policy=POLL) as client:
        prediction = await client.predictions.create("timed", {})
        assert prediction.prediction.estimated_duration == pytest.approx(0.2 * 0.7, rel=0.01)
        assert await client.run("timed", {}) == {"ok": 1}


async def test_estimate_noise_is_reproducible_with_a_seed() -> None:
    async def factors(seed: int) -> list[float]:
        emulator = _emulator(time_scale=1.0, estimate_noise=0.2, estimate_seed=seed)
        emulator.register_workflow("t", lambda inputs, ctx: {}, duration=10, queue_seconds=0.0)
        async with emulator.client(retry_policy=FAST_RETRY) as client:
            made = [await client.predictions.create("t", {}) for _ in range(5)]
        return [round((p.prediction.estimated_duration or 0) / 10, 6) for p in made]

    first, again, other = await factors(7), await factors(7), await factors(8)
    assert first == again
    assert first != other
    assert len(set(first)) == 5  # each task draws its own error


# ------------------------------------------------------------------------------ safe beside others


async def test_tasks_belong_to_the_app_key_that_made_them(site: Site) -> None:
    async with site.speedpix() as a, site.speedpix(KEY_B, SECRET_B) as b:
        task = await a.predictions.create("wf-echo", {"mine": True})
        with pytest.raises(NotFoundError):
            await b.predictions.get(task.id)
        with pytest.raises(NotFoundError):
            await b.predictions.wait(task.id, timeout=5)
        assert (await a.predictions.wait(task.id, timeout=30)).output["echo"] == {"mine": True}
        # B's own tasks work as ever.
        assert (await b.run("wf-echo", {"b": 1}))["echo"] == {"b": 1}


async def test_portrait_jobs_and_models_belong_to_the_app_id_that_made_them(site: Site) -> None:
    photos = [site.sample(f"portrait-1-{n}.jpg") for n in range(4)]
    template = site.sample("template-1.jpg")
    async with site.portrait() as a, site.portrait(APP_B, TOKEN_B) as b:
        handle = await a.train(photos)
        with pytest.raises(PortraitNotFoundError):
            await b.jobs.get(handle.job_id)
        job = await handle.wait(timeout=30)
        # Another AppId's model is, to B, a model id the service does not know.
        with pytest.raises(PortraitInputError, match="does not know this model id"):
            await b.create(template, model_id=job.model_id)
        image = await a.create(template, model_id=job.model_id)
    assert image.width > 0


async def test_an_oversize_body_is_refused_with_413(site: Site) -> None:
    body = b'{"workflow_id":"wf-echo","inputs":{"x":"' + b"a" * MAX_API_BODY + b'"}}'
    answer = await site.signed("/scc/comfy_prompt", body)
    assert answer.status_code == 413
    assert answer.headers["x-ca-error-message"] == "Request Entity Too Large"
    portrait = await site.pai("/api/v1/aigc_images/check", body)
    assert portrait.status_code == 413
    assert _envelope(portrait)["code"] == "PARAMETER_ERROR"

    # Streamed without a length (chunked), it is cut off once past the cap.
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(9):
            yield b" " * (1 << 20)

    async with site.raw() as raw:
        streamed = await raw.post(
            "/scc/comfy_prompt", content=chunks(), headers={"x-ca-key": KEY_A}
        )
    assert streamed.status_code == 413
    assert site.emulator.stats.tasks_created == 0


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [("nobody", 400, "Invalid AppKey"), (KEY_A, 413, "Request Entity Too Large")],
)
async def test_a_huge_declared_body_is_answered_without_reading_it(
    key: str, status: int, message: str
) -> None:
    """600 MB announced, 16 bytes sent: the answer comes from the headers alone (an unknown key
    is refused, a known one told the body is too large) and the socket is not read further."""
    emulator = _emulator()
    with emulator.serve() as server:
        host, port = server.endpoint.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(
                b"POST /scc/comfy_prompt HTTP/1.1\r\n"
                + f"Host: {host}\r\nx-ca-key: {key}\r\n".encode()
                + b"Content-Type: application/json\r\nContent-Length: 629145600\r\n\r\n"
                + b'{"workflow_id":"'
            )
            await writer.drain()
            with anyio.fail_after(10):
                status_line = await reader.readline()
                head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
        finally:
            writer.close()
    assert status_line.split()[1] == str(status).encode()
    assert f"x-ca-error-message: {message.lower()}" in head


def _nested(depth: int) -> bytes:
    return b'{"workflow_id":"wf-echo","inputs":{"x":' + b"[" * depth + b"]" * depth + b"}}"


async def test_a_deep_signed_body_is_an_invalid_parameter(site: Site) -> None:
    answer = await site.signed("/scc/comfy_prompt", _nested(200_000))
    assert answer.status_code == 200
    body = _envelope(answer)
    assert body["errCode"] == "InvalidParameter"
    assert "nested more than 100 levels" in body["errMessage"]
    # Deep-ish but within the limit is fine.
    fine = _envelope(await site.signed("/scc/comfy_prompt", _nested(50)))
    assert fine["status"] == 10, fine
    portrait = await site.pai(
        "/api/v1/aigc_images/check", b'{"images":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    )
    assert portrait.status_code == 462
    assert _envelope(portrait)["message"] == "Invalid input data. Please check the input dict."
    assert site.emulator.stats.tasks_created == 1


def _png_of(width: int, height: int) -> bytes:
    """A grey PNG of that many pixels, compressed without ever holding them all."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    packer = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * min(width, 1 << 20)
    parts = []
    for _ in range(height):
        parts.append(packer.compress(row[:1]))
        left = width
        while left:
            step = min(left, 1 << 20)
            parts.append(packer.compress(row[1 : step + 1]))
            left -= step
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


async def test_a_pixel_bomb_is_an_unreadable_photo(site: Site) -> None:
    bomb = _png_of(80_000_000, 1)
    assert len(bomb) < 200_000  # small on the wire, 80 megapixels decoded
    async with site.speedpix() as client:
        uploaded = await client.files.create(bomb, filename="bomb.png")
    async with site.portrait() as portrait:
        checked = await portrait.check_images(
            [uploaded.access_url, site.sample("portrait-0-0.png")]
        )
    assert [c.code for c in checked] == [CheckCode.UNREADABLE, CheckCode.OK]
    # Refused from its header, before decoding: 80 MP is under Pillow's own bomb limit, and
    # decoding it cost the emulator +1.6 GB (or a MemoryError, also "unreadable").
    with pytest.raises(FaceReadError, match=r"80000000x1 is more than 25,000,000 pixels"):
        find_faces(bomb)
