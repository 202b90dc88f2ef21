"""Uploads and file inputs end to end, against the emulator."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from speedpix_async import (
    AsyncSpeedPix,
    FileOutput,
    InputError,
    LocalFileAsTextWarning,
    PermissionDeniedError,
    UploadedFile,
)
from speedpix_async._signing import GatewaySigner
from speedpix_async.emulator import IN_PROCESS_ENDPOINT, Emulator, LoopbackServer
from tests._proxies import Proxy, copy_request
from tests.conftest import FAST_POLL, FAST_RETRY

#: The loopback tests here are part of the transport suite (run once per HTTP backend).
pytestmark = pytest.mark.backends

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


async def echo(client: AsyncSpeedPix, value: Any, **kwargs: Any) -> Any:
    """What the workflow received for ``{"v": value}``."""
    output = await client.run("wf-echo", {"v": value}, **kwargs)
    return output["echo"]["v"]


async def fetch(client: AsyncSpeedPix, url: str) -> bytes:
    return await client.files.from_url(url).read()


async def test_files_create_uploads_and_describes_the_file(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    uploaded = await client.files.create(photo)
    assert isinstance(uploaded, UploadedFile)
    assert uploaded.name == "photo.png"
    assert uploaded.content_type == "image/png"
    assert uploaded.size == len(PNG)
    assert uploaded.object_key.endswith("/photo.png")
    assert uploaded.path.endswith(uploaded.object_key)
    assert uploaded.expire_time is not None
    assert uploaded.url == uploaded.access_url
    assert await fetch(client, uploaded.access_url) == PNG
    stats = emulator.stats.snapshot()
    assert stats["bytes_uploaded"] == len(PNG)
    assert stats["uploads"] == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p,
        lambda p: str(p),
        lambda p: p.read_bytes(),
        lambda p: bytearray(p.read_bytes()),
        lambda p: memoryview(p.read_bytes()),
        lambda p: io.BytesIO(p.read_bytes()),
    ],
    ids=["Path", "str", "bytes", "bytearray", "memoryview", "BytesIO"],
)
async def test_files_create_accepts_every_kind(
    client: AsyncSpeedPix, tmp_path: Path, make: Any
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    uploaded = await client.files.create(make(photo))
    assert uploaded.content_type == "image/png"
    assert await fetch(client, uploaded.access_url) == PNG


async def test_files_create_accepts_open_files_and_async_iterators(
    client: AsyncSpeedPix, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    with open(photo, "rb") as handle:
        from_handle = await client.files.create(handle)
    assert from_handle.name == "photo.png"

    async def chunks() -> AsyncIterator[bytes]:
        yield PNG[:10]
        yield PNG[10:]

    from_iterator = await client.files.create(chunks(), filename="streamed.png")
    assert from_iterator.name == "streamed.png"
    for uploaded in (from_handle, from_iterator):
        assert await fetch(client, uploaded.access_url) == PNG


async def test_explicit_content_type_and_filename_win(client: AsyncSpeedPix) -> None:
    uploaded = await client.files.create(
        b"hello", filename="note.txt", content_type="text/markdown"
    )
    assert (uploaded.name, uploaded.content_type) == ("note.txt", "text/markdown")


async def test_every_input_kind_is_uploaded_into_place(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("photo.png").write_bytes(PNG)
    Path("second.jpg").write_bytes(PNG + b"2")
    pre = await client.files.create(PNG + b"pre")
    with open("photo.png", "rb") as handle:
        received = await echo(
            client,
            {
                "path": Path("second.jpg"),
                "string": "./photo.png",
                "bytes": PNG + b"b",
                "handle": handle,
                "nested": [{"deep": io.BytesIO(PNG + b"io")}],
                "uploaded": pre,
                "prompt": "keep me",
            },
        )
    assert received["prompt"] == "keep me"
    assert received["uploaded"] == pre.access_url
    expected = {
        "path": PNG + b"2",
        "string": PNG,
        "bytes": PNG + b"b",
        "handle": PNG,
    }
    for key, content in expected.items():
        assert isinstance(received[key], FileOutput), key
        assert await fetch(client, received[key]) == content, key
    assert await fetch(client, received["nested"][0]["deep"]) == PNG + b"io"


async def test_text_that_is_not_a_local_media_path_is_sent_as_is(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("notes.txt").write_text("private notes")
    Path("photo.png").write_bytes(PNG)
    texts = ["/etc/hostname", "notes.txt", "./notes.txt", "photo.png", "https://x.test/a.png"]
    with pytest.warns(LocalFileAsTextWarning, match="'photo.png'"):
        received = await echo(client, texts)
    assert received == texts
    assert emulator.stats.snapshot()["uploads"] == 0


async def test_upload_local_paths_false_never_reads_strings_as_paths(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("photo.png").write_bytes(PNG)
    async with emulator.client(
        upload_local_paths=False, retry_policy=FAST_RETRY, poll_policy=FAST_POLL
    ) as client:
        received = await echo(
            client, {"s": "./photo.png", "missing": "./nope.png", "p": Path("photo.png")}
        )
    assert received["s"] == "./photo.png"
    assert received["missing"] == "./nope.png"
    assert str(received["p"]).startswith("http")  # an explicit Path is still a file
    assert emulator.stats.snapshot()["uploads"] == 1


async def test_one_file_referenced_twice_uploads_once(
    loopback_client: AsyncSpeedPix, server: LoopbackServer, tmp_path: Path
) -> None:
    files = []
    for index in range(4):
        path = tmp_path / f"f{index}.png"
        path.write_bytes(PNG + os.urandom(2 << 20))  # 2 MiB each: uploads overlap
        files.append(path)
    same_bytes = PNG + b"same"
    value = {
        "a": files[0],
        "a_again": files[0],
        "a_as_string": str(files[0]),
        "b": files[1],
        "c": [files[2], files[3]],
        "x": same_bytes,
        "x_again": bytes(same_bytes),
    }
    received = await echo(loopback_client, value)
    stats = server.emulator.stats.snapshot()
    assert stats["uploads"] == 5  # 4 files + 1 distinct byte string
    assert received["a"] == received["a_again"] == received["a_as_string"]
    assert received["x"] == received["x_again"]
    assert len({received["a"], received["b"], *received["c"], received["x"]}) == 5
    assert stats["max_concurrent_uploads"] >= 2, "distinct files upload concurrently"
    assert stats["max_concurrent_uploads"] <= 4, "but at most UPLOAD_CONCURRENCY at once"


async def test_base64_strategy_inlines_small_files(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    received = await echo(client, PNG, file_encoding_strategy="base64")
    assert received == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert emulator.stats.snapshot()["uploads"] == 0


async def test_base64_refuses_files_over_one_mebibyte_before_sending(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\x00" * (1 << 20))
    size = f"{len(PNG) + (1 << 20):,}"
    with pytest.raises(
        InputError, match=rf'input\["v"\]\["img"\] is {size} bytes.*file_encoding_strategy=.url'
    ):
        await echo(client, {"img": big}, file_encoding_strategy="base64")
    assert emulator.stats.snapshot()["requests"]["total"] == 0


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (lambda p: p / "missing.png", r'input\["v"\]\[1\]: no such file'),
        (lambda p: p, r'input\["v"\]\[1\]: .* is a directory'),
        (
            lambda p: "./missing-photo.png",
            r'input\["v"\]\[1\] is written as a local file path .*upload_local_paths=False',
        ),
        (lambda p: io.StringIO("x"), "open it with 'rb'"),
    ],
    ids=["missing-path", "directory", "missing-string-path", "text-file"],
)
async def test_unusable_files_fail_before_any_request(
    client: AsyncSpeedPix,
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    value: Any,
    fragment: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    good = tmp_path / "good.png"
    good.write_bytes(PNG)
    with pytest.raises(InputError, match=fragment):
        await echo(client, [good, value(tmp_path)])
    # Not even the good file was uploaded: every file is checked before anything is sent.
    assert emulator.stats.snapshot()["requests"]["total"] == 0


class _ForgingProxy(Proxy):
    """Breaks the signature of every presigned PUT (a storage that refuses the upload)."""

    def rewrite(self, request: httpx.Request) -> httpx.Request:
        if request.method == "PUT":
            url = str(request.url).replace("Signature=", "Signature=0")
            forged = copy_request(request)
            return httpx.Request("PUT", url, headers=forged.headers, content=forged.content)
        return request


async def test_a_failed_upload_means_no_task(emulator: Emulator) -> None:
    proxy = _ForgingProxy(emulator.transport())
    async with emulator.client(transport=proxy, retry_policy=FAST_RETRY) as client:
        with pytest.raises(PermissionDeniedError, match="presigned URL") as info:
            await client.run("wf-echo", {"image": PNG})
    assert info.value.err_code == "SignatureDoesNotMatch"
    stats = emulator.stats.snapshot()
    assert stats["tasks_created"]["total"] == 0
    assert "/scc/comfy_prompt" not in stats["requests"]["by_route"]
    assert "Signature=" not in str(info.value)


async def test_store_refuses_expired_and_wrongly_typed_uploads(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    path = "/scc/sp_create_temp_file_upload_sign"
    body = b'{"contentType":"image/png","originalFilename":"a.png"}'
    signed = GatewaySigner(emulator.app_key, emulator.app_secret).sign(
        method="POST", path=path, body=body
    )
    async with httpx.AsyncClient(transport=emulator.transport()) as raw:
        reply = await raw.post(IN_PROCESS_ENDPOINT + path, content=body, headers=signed.headers)
        upload_url = reply.json()["data"]["uploadUrl"]
        wrong_type = await raw.put(upload_url, content=PNG, headers={"content-type": "image/jpeg"})
        assert wrong_type.status_code == 403
        assert "<Code>SignatureDoesNotMatch</Code>" in wrong_type.text
        emulator.clock_skew = 3600.0  # the URL's 15 minutes are long gone
        expired = await raw.put(upload_url, content=PNG, headers={"content-type": "image/png"})
        assert expired.status_code == 403
        assert "Request has expired" in expired.text
        unsigned = await raw.get(upload_url.split("?")[0])
        assert unsigned.status_code == 403
    assert emulator.stats.snapshot()["uploads"] == 0


async def test_store_serves_downloads_with_content_length(loopback_client: AsyncSpeedPix) -> None:
    uploaded = await loopback_client.files.create(PNG * 100)
    async with httpx.AsyncClient() as raw:
        response = await raw.get(uploaded.access_url)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(PNG) * 100)
    assert response.headers["content-type"] == "image/png"
    assert response.content == PNG * 100
