"""The public API's types, checked by ``mypy --strict`` and never run by pytest.

Each ``assert_type`` pins what users' type checkers see (the checked form of ``reveal_type``);
each ``# type: ignore[...]`` proves a misuse is rejected (strict mode reports an ignore that is
no longer needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from typing_extensions import assert_type

import speedpix_async
import speedpix_async.sync as blocking
from speedpix_async import (
    AsyncPredictionHandle,
    AsyncSpeedPix,
    FileOutput,
    ImageFile,
    Prediction,
    PredictionTimeoutError,
    Progress,
    SpeedPix,
    TaskStatus,
    UploadedFile,
)


@attrs.frozen
class Result:
    images: ImageFile
    info: str


@attrs.frozen
class BlockingResult:
    images: blocking.ImageFile
    info: str


async def async_api(wait: bool) -> None:
    async with AsyncSpeedPix("key", "secret", endpoint="http://127.0.0.1:8787") as client:
        assert_type(client, AsyncSpeedPix)
        assert_type(client.with_options(max_retries=0), AsyncSpeedPix)
        # run(): the output by default, a handle with wait=False, T with output_type=T.
        assert_type(await client.run("wf", {"prompt": "a cat"}), Any)
        assert_type(await client.run("wf", {}, wait=False), AsyncPredictionHandle)
        assert_type(await client.run("wf", {}, output_type=Result), Result)
        assert_type((await client.run("wf", {}, output_type=Result)).images, ImageFile)
        assert_type(await client.run("wf", {}, wait=wait), Any)
        await client.run("wf", {}, file_encoding_strategy="base64")
        await client.run("wf", {}, file_encoding_strategy="zip")  # type: ignore[call-overload]
        await client.run(42)  # type: ignore[call-overload]
        assert_type(client.http_backend, str)
        assert_type(AsyncSpeedPix(http_backend="aiohttp"), AsyncSpeedPix)
        AsyncSpeedPix(http_backend="curl")  # type: ignore[arg-type]
        handle = await client.predictions.create("wf", {"prompt": "a cat"}, alias_id="main")
        assert_type(handle, AsyncPredictionHandle)
        assert_type(handle.status, TaskStatus)
        assert_type(await handle.reload(), Prediction)
        async for report in handle.watch(timeout=60):
            assert_type(report, Progress)
            assert_type(report.eta, float | None)
        final = await client.predictions.wait(handle.id, timeout=60)
        assert_type(final.output, Any)
        uploaded = await client.files.create(Path("in.png"))
        assert_type(uploaded, UploadedFile)
        output = client.files.from_url(uploaded.access_url)
        assert_type(output, FileOutput)
        assert_type(await output.save("out.png"), Path)
        assert_type(await output.read(), bytes)
        assert_type(await speedpix_async.run("wf", {}, client=client), Any)
        assert_type(await speedpix_async.run("wf", {}, output_type=Result), Result)
        assert_type(await speedpix_async.run("wf", {}, wait=False), AsyncPredictionHandle)
        await speedpix_async.run("wf", {}, alais_id="main")  # type: ignore[call-overload]
        await client.run("wf", {}, timeout=5, alias_id="main", on_progress=print)
        await client.predictions.create("wf", {}, timeout=3)  # type: ignore[call-arg]
        try:
            await client.run("wf", {})
        except PredictionTimeoutError as err:
            assert_type(err.task_id, str | None)


def blocking_api() -> None:
    with SpeedPix("key", "secret") as client:
        assert_type(client, blocking.SpeedPix)
        assert_type(client.run("wf", {}), Any)
        assert_type(client.run("wf", {}, wait=False), blocking.PredictionHandle)
        assert_type(client.run("wf", {}, output_type=BlockingResult), BlockingResult)
        assert_type(client.run("wf", {}, output_type=BlockingResult).images.width, int | None)
        assert_type(client.run("wf", {}, output_type=BlockingResult).images.save("a"), Path)
        handle = client.predictions.create("wf", {"prompt": "a cat"})
        assert_type(handle, blocking.PredictionHandle)
        for report in handle.watch():
            assert_type(report, Progress)
        with handle.watch() as reports:
            assert_type(next(reports), Progress)
        assert_type(client.predictions.wait(handle.id), Prediction)
        output = client.files.from_url("https://example.com/a.png")
        assert_type(output, blocking.FileOutput)
        assert_type(output.save("a.png"), Path)
        for chunk in output.iter_bytes():
            assert_type(chunk, bytes)
        assert_type(blocking.run("wf", {}, client=client), Any)
        assert_type(blocking.run("wf", {}, output_type=BlockingResult), BlockingResult)
        assert_type(blocking.run("wf", {}, wait=False), blocking.PredictionHandle)
        client.run(42)  # type: ignore[call-overload]
        client.aclose()  # type: ignore[attr-defined]
