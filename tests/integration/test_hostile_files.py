"""Files that lie: sizes that are not what ``stat`` says, symlinks to non-media, devices, strings
that only look like paths. Each is an InputError before anything is sent."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Literal

import pytest

from speedpix_async import InputError
from speedpix_async.emulator import Emulator
from speedpix_async.speedpix.inputs import MAX_INPUT_DEPTH
from speedpix_async.speedpix.sources import CHUNK_SIZE, open_source

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
ENVIRON = Path("/proc/self/environ")


def requests(emulator: Emulator) -> int:
    total: int = emulator.stats.snapshot()["requests"]["total"]
    return total


@pytest.mark.skipif(not ENVIRON.exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("strategy", ["base64", "url"])
async def test_a_file_larger_than_its_stat_size_is_refused(
    strategy: Literal["base64", "url"], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPEEDPIX_TEST_CANARY", "canary-6d1f")
    emulator = Emulator()
    async with emulator.client() as client:
        with pytest.raises(InputError, match="larger than its reported size") as caught:
            await client.run("wf-echo", {"a": ENVIRON}, file_encoding_strategy=strategy)
    assert "canary-6d1f" not in str(caught.value)
    assert os.environ["PATH"] not in str(caught.value)
    assert requests(emulator) == 0


async def test_a_file_that_shrinks_while_read_is_refused(tmp_path: Path) -> None:
    class Shrinking(io.BytesIO):
        """Seekable, measured at 4 KiB, but its reads stop after 1 KiB."""

        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= 1024:
                return b""
            return super().read(min(size if size and size > 0 else 1024, 1024 - self.tell()))

    emulator = Emulator()
    async with emulator.client() as client:
        with pytest.raises(InputError, match="shorter than its reported size"):
            await client.files.create(Shrinking(PNG + bytes(4096)))
    assert emulator.stats.snapshot()["bytes_uploaded"] == 0


async def test_a_symlink_to_a_text_file_is_not_uploaded_as_an_image(tmp_path: Path) -> None:
    secret = tmp_path / "secrets.txt"
    secret.write_text("API_TOKEN=do-not-upload\n")
    link = tmp_path / "x.png"
    link.symlink_to(secret)
    emulator = Emulator()
    async with emulator.client() as client:
        with pytest.raises(InputError, match="not an image, video or audio file"):
            await client.run("wf-echo", {"a": str(link)})
    assert requests(emulator) == 0


async def test_a_text_file_named_like_media_is_not_uploaded(tmp_path: Path) -> None:
    fake = tmp_path / "photo.jpg"
    fake.write_text("not a photo")
    emulator = Emulator()
    async with emulator.client() as client:
        with pytest.raises(InputError, match="not an image, video or audio file"):
            await client.run("wf-echo", {"a": f"{tmp_path}/./photo.jpg"})
    assert requests(emulator) == 0


async def test_a_symlink_to_a_real_picture_is_uploaded(tmp_path: Path) -> None:
    picture = tmp_path / "real.png"
    picture.write_bytes(PNG)
    link = tmp_path / "link.png"
    link.symlink_to(picture)
    emulator = Emulator()
    async with emulator.client() as client:
        output = await client.run("wf-echo", {"a": str(link)})
        assert await output["echo"]["a"].read() == PNG
    assert emulator.stats.snapshot()["uploads"] == 1


@pytest.mark.skipif(os.name == "nt", reason="a drive letter is a path on Windows")
async def test_a_drive_letter_is_text_outside_windows() -> None:
    emulator = Emulator()
    async with emulator.client() as client:
        output = await client.run("wf-echo", {"a": "C:/photo.png"})
    assert output["echo"]["a"] == "C:/photo.png"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
async def test_an_open_device_is_refused() -> None:
    emulator = Emulator()
    with open("/dev/zero", "rb") as device:
        async with emulator.client() as client:
            with pytest.raises(InputError, match="not a regular file"):
                await client.files.create(device)
    assert requests(emulator) == 0


@pytest.mark.parametrize("change", ["truncate", "grow"])
async def test_a_file_changed_after_it_was_measured_is_refused_while_streaming(
    tmp_path: Path, change: str
) -> None:
    picture = tmp_path / "p.png"
    picture.write_bytes(PNG + bytes(3 * CHUNK_SIZE))
    source = await open_source(picture)
    if change == "truncate":
        picture.write_bytes(PNG)
        expected = "shorter than its reported size"
    else:
        with picture.open("ab") as handle:
            handle.write(b"appended after the measurement")
        expected = "larger than its reported size"
    with pytest.raises(InputError, match=expected):
        await source.read_all()
    source.close()


async def test_a_circular_input_is_an_input_error() -> None:
    looped: dict[str, object] = {"name": "x"}
    looped["self"] = looped
    emulator = Emulator()
    async with emulator.client() as client:
        with pytest.raises(InputError, match=r'input\["a"\]\["self"\] contains itself'):
            await client.run("wf-echo", {"a": looped})
    assert requests(emulator) == 0


async def test_a_very_deep_input_is_an_input_error() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    emulator = Emulator()
    async with emulator.client() as client:
        with pytest.raises(InputError, match=f"more than {MAX_INPUT_DEPTH} levels deep"):
            await client.run("wf-echo", {"a": deep})
    assert requests(emulator) == 0


async def test_a_value_shared_twice_is_not_a_cycle() -> None:
    shared = {"k": 1}
    emulator = Emulator()
    async with emulator.client() as client:
        output = await client.run("wf-echo", {"a": [shared, shared]})
    assert output["echo"]["a"] == [{"k": 1}, {"k": 1}]
