"""Outputs: FileOutput, atomic save, typed results and the image workflows."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import pickle
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Optional

import attrs
import httpx
import pytest
from PIL import Image

from speedpix_async import (
    APIConnectionError,
    AsyncSpeedPix,
    ConfigurationError,
    FileOutput,
    ImageFile,
    InputError,
    ResponseValidationError,
    VideoFile,
)
from speedpix_async.emulator import Emulator
from tests._proxies import Proxy
from tests.conftest import FAST_POLL, FAST_RETRY


def make_photo(path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    image = Image.new("RGB", size, (90, 140, 200))
    image.paste((200, 40, 40), (size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4))
    image.save(path, format="JPEG")
    return path


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# ------------------------------------------------------------------- the guides' sample


async def test_white_background_sample_as_in_the_python_guide(
    client: AsyncSpeedPix, tmp_path: Path
) -> None:
    photo = make_photo(tmp_path / "input.jpg")
    output = await client.run(
        "wf-white-background", input={"text": "A white background", "image": photo}
    )
    url = output["images"]["url"]
    assert isinstance(url, FileOutput)
    assert isinstance(output["info"], str)
    saved = await url.save(tmp_path / "output.png")
    assert saved == tmp_path / "output.png"
    image = decode(saved.read_bytes())
    assert image.size == (1024, 1024)
    assert image.getpixel((5, 5)) == (255, 255, 255)  # a white canvas…
    red = image.getpixel((512, 400))
    assert isinstance(red, tuple)
    assert red[0] > 150  # …with the red subject on it
    assert output["images"]["width"] == 1024
    assert output["images"]["format"] == "png"
    assert url.metadata["type"] == "image"
    assert url.filename.endswith(".png")


async def test_text_to_image_has_the_requested_size_in_the_default_image_list(
    client: AsyncSpeedPix,
) -> None:
    output = await client.run(
        "wf-text-to-image", {"prompt": "a lighthouse", "width": 640, "height": 320, "steps": 4}
    )
    assert list(output) == ["images"]
    assert len(output["images"]) == 1
    image = decode(await output["images"][0].read())
    assert image.size == (640, 320)


async def test_image_to_image_keeps_the_size_and_takes_an_earlier_output(
    client: AsyncSpeedPix,
) -> None:
    first = await client.run(
        "wf-text-to-image", {"prompt": "a boat", "width": 256, "height": 192, "steps": 2}
    )
    # A FileOutput is a str: it can be passed straight back as an input URL.
    second = await client.run(
        "wf-image-to-image",
        {"image": first["images"][0], "prompt": "oil painting", "strength": 0.8},
    )
    image = decode(await second["images"][0].read())
    assert image.size == (256, 192)
    assert decode(await first["images"][0].read()).tobytes() != image.tobytes()


async def test_image_to_video_is_an_animation_with_its_metadata(
    client: AsyncSpeedPix, tmp_path: Path
) -> None:
    photo = make_photo(tmp_path / "p.jpg", (600, 400))
    output = await client.run("wf-image-to-video", {"image": photo, "duration": 1.0, "fps": 5})
    video = output["video"]
    assert video["type"] == "video"
    animation = decode(await video["url"].read())
    assert animation.format == "GIF"
    assert getattr(animation, "n_frames", 1) == 5
    assert animation.size == (video["width"], video["height"]) == (512, 341)


async def test_image_workflows_refuse_unreachable_inputs(client: AsyncSpeedPix) -> None:
    from speedpix_async import PredictionFailedError

    with pytest.raises(PredictionFailedError, match="cannot download input 'image'") as info:
        await client.run("wf-image-to-image", {"image": "https://example.com/cat.png"})
    assert info.value.error_code == "InputDownloadFailed"


# ------------------------------------------------------------------------- FileOutput


async def test_file_output_is_a_plain_url_string_with_a_safe_repr(client: AsyncSpeedPix) -> None:
    out = (
        await client.run("wf-text-to-image", {"prompt": "x", "width": 64, "height": 64, "steps": 1})
    )["images"][0]
    assert out.startswith("http://")
    assert "Signature=" in out  # str() is the full URL, usable as an input
    assert "Signature=" not in repr(out)
    assert repr(out).endswith("?…')")
    assert json.loads(json.dumps({"u": out})) == {"u": str(out)}
    clone = pickle.loads(pickle.dumps(out))
    assert clone == out
    assert clone.metadata == out.metadata
    with pytest.raises(InputError, match="from_url"):  # the pool is never pickled
        await clone.read()
    assert await copy.deepcopy(out).read() == await out.read()  # a copy keeps its client


async def test_aiter_bytes_streams(client: AsyncSpeedPix) -> None:
    uploaded = await client.files.create(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    chunks = [
        chunk
        async for chunk in client.files.from_url(uploaded.access_url).aiter_bytes(chunk_size=100)
    ]
    assert b"".join(chunks).endswith(bytes(range(256)))
    assert len(chunks) > 1


async def test_downloads_need_the_client_open(emulator: Emulator) -> None:
    async with emulator.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as client:
        uploaded = await client.files.create(b"data")
        url = client.files.from_url(uploaded.access_url)
    with pytest.raises(ConfigurationError, match="closed"):
        await url.read()


class _CutStream(httpx.AsyncByteStream):
    def __init__(self, data: bytes, keep: int) -> None:
        self.data, self.keep = data, keep

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data[: self.keep]
        raise httpx.ReadError("connection reset by peer")


class CuttingProxy(Proxy):
    """Severs the first ``cuts`` store downloads half-way through the body."""

    def __init__(self, inner: httpx.AsyncBaseTransport, cuts: int) -> None:
        super().__init__(inner)
        self.cuts = cuts

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.method == "GET" and "/_store/" in request.url.path and self.cuts > 0:
            self.cuts -= 1
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=_CutStream(response.content, len(response.content) // 2),
            )
        return response


async def _uploaded_url(emulator: Emulator, data: bytes) -> str:
    async with emulator.client() as plain:
        return (await plain.files.create(data)).access_url


async def test_a_download_cut_mid_stream_leaves_no_file(emulator: Emulator, tmp_path: Path) -> None:
    url = await _uploaded_url(emulator, b"\x89PNG\r\n\x1a\n" + bytes(5000))
    proxy = CuttingProxy(emulator.transport(), cuts=100)
    async with emulator.client(transport=proxy, retry_policy=FAST_RETRY) as client:
        with pytest.raises(APIConnectionError, match="ReadError"):
            await client.files.from_url(url).save(tmp_path / "result.png")
    assert list(tmp_path.iterdir()) == []
    assert proxy.cuts == 100 - (FAST_RETRY.max_retries + 1)  # every attempt was tried


async def test_a_cut_download_is_retried_from_the_start(emulator: Emulator, tmp_path: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    url = await _uploaded_url(emulator, data)
    async with emulator.client(
        transport=CuttingProxy(emulator.transport(), cuts=2), retry_policy=FAST_RETRY
    ) as client:
        saved = await client.files.from_url(url).save(tmp_path / "result.png")
    assert saved.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]


async def test_save_refuses_directories_and_missing_parents(
    client: AsyncSpeedPix, tmp_path: Path
) -> None:
    out = client.files.from_url((await client.files.create(b"x")).access_url)
    with pytest.raises(InputError, match="is a directory"):
        await out.save(tmp_path)
    with pytest.raises(InputError, match="does not exist; create it first"):
        await out.save(tmp_path / "missing" / "deeper" / "x.png")
    assert list(tmp_path.iterdir()) == []
    existing = tmp_path / "x.bin"
    existing.write_bytes(b"old")
    await out.save(existing)
    assert existing.read_bytes() == b"x"


# ------------------------------------------------------------------------ typed results


@attrs.frozen
class WhiteBackground:
    images: ImageFile
    info: str


@dataclasses.dataclass
class WhiteBackgroundDC:
    images: ImageFile
    info: str
    extra: Optional[str] = None


@attrs.frozen
class Gallery:
    images: list[ImageFile]


@attrs.frozen
class Clip:
    video: VideoFile
    info: str


async def test_typed_result_into_an_attrs_class(client: AsyncSpeedPix, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "in.jpg")
    result = await client.run(
        "wf-white-background", {"image": photo, "text": "t"}, output_type=WhiteBackground
    )
    assert isinstance(result, WhiteBackground)
    image = result.images
    assert isinstance(image, ImageFile)
    assert (image.width, image.height, image.file_format) == (1024, 1024, "png")
    assert image.aspect_ratio == 1.0
    assert image.is_square
    assert not image.is_portrait
    assert not image.is_landscape
    assert image.object_key is not None
    saved = await image.save(tmp_path / "typed.png")
    assert decode(saved.read_bytes()).size == (1024, 1024)


async def test_typed_result_into_a_dataclass_and_lists(
    client: AsyncSpeedPix, tmp_path: Path
) -> None:
    photo = make_photo(tmp_path / "in.jpg")
    result = await client.run(
        "wf-white-background", {"image": photo}, output_type=WhiteBackgroundDC
    )
    assert isinstance(result.images, ImageFile)
    assert result.extra is None
    gallery = await client.run(
        "wf-text-to-image",
        {"prompt": "p", "width": 96, "height": 64, "steps": 1},
        output_type=Gallery,
    )
    assert isinstance(gallery.images[0], ImageFile)
    assert gallery.images[0].width is None  # a bare URL carries no metadata…
    assert decode(await gallery.images[0].read()).size == (96, 64)  # …but downloads fine
    just_list = await client.run(
        "wf-text-to-image",
        {"prompt": "p", "width": 64, "height": 64, "steps": 1},
        output_type=dict[str, list[ImageFile]],
    )
    assert isinstance(just_list["images"][0], ImageFile)


async def test_typed_video(client: AsyncSpeedPix, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "in.jpg", (800, 800))
    clip = await client.run(
        "wf-image-to-video", {"image": photo, "duration": 0.5, "fps": 4}, output_type=Clip
    )
    video = clip.video
    assert isinstance(video, VideoFile)
    assert video.resolution == "512x512"
    assert video.duration == 0.5
    assert video.frame_rate == 4
    assert not video.is_hd
    assert not video.is_4k
    assert video.file_format == "gif"


@attrs.frozen
class WrongInfo:
    images: ImageFile
    info: int


@attrs.frozen
class MissingField:
    images: ImageFile
    caption: str


async def test_a_result_that_does_not_fit_names_the_field(
    client: AsyncSpeedPix, tmp_path: Path
) -> None:
    photo = make_photo(tmp_path / "in.jpg")
    with pytest.raises(ResponseValidationError, match=r"\$\.info"):
        await client.run("wf-white-background", {"image": photo}, output_type=WrongInfo)
    with pytest.raises(ResponseValidationError, match=r"required field missing @ \$\.caption"):
        await client.run("wf-white-background", {"image": photo}, output_type=MissingField)


def test_file_type_helpers_from_metadata() -> None:
    portrait = ImageFile("https://x.test/a.png", metadata={"width": 600, "height": 800})
    assert portrait.is_portrait
    assert portrait.aspect_ratio == 0.75
    landscape = VideoFile(
        "https://x.test/v.mp4", metadata={"width": 3840, "height": 2160, "fps": 30}
    )
    assert landscape.is_landscape
    assert landscape.is_hd
    assert landscape.is_4k
    assert landscape.resolution == "3840x2160"
    assert landscape.file_format == "mp4"
    unknown = ImageFile("https://x.test/file")
    assert unknown.aspect_ratio is None
    assert not unknown.is_square
    assert "{}".format(unknown) == "https://x.test/file"  # noqa: UP032 - str.format is intact


def _structure(value: Any, cls: Any) -> Any:
    from speedpix_async._converter import structure

    return structure(value, cls, what="the workflow output")


def test_file_fields_reject_non_urls() -> None:
    with pytest.raises(ResponseValidationError, match="expected a file URL"):
        _structure({"images": "not a url", "info": "x"}, WhiteBackground)
    with pytest.raises(ResponseValidationError, match=r"\$\.images"):
        _structure({"images": 42, "info": "x"}, WhiteBackground)
