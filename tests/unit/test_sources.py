"""File detection rules and upload sources: kinds, sizes, types, streaming."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from speedpix_async import InputError
from speedpix_async.speedpix.inputs import looks_like_local_media_path
from speedpix_async.speedpix.sources import CHUNK_SIZE, detect_content_type, open_source

PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("./photo.png", "./photo.png"),
        ("../up/a.JPG", "../up/a.JPG"),
        ("/abs/clip.mp4", "/abs/clip.mp4"),
        ("~/a.webp", "~/a.webp"),
        ("file:///tmp/a%20b.png", "/tmp/a b.png"),
        (".\\win.gif", ".\\win.gif"),
    ],
)
def test_strings_written_as_local_media_paths(text: str, path: str) -> None:
    assert looks_like_local_media_path(text) == path


@pytest.mark.parametrize("text", ["C:\\images\\x.png", "D:/x.tiff"])
def test_a_drive_letter_is_a_path_only_on_windows(text: str) -> None:
    expected = text if os.name == "nt" else None
    assert looks_like_local_media_path(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "photo.png",  # not written as a path
        "/etc/hostname",  # no media extension
        "notes.txt",
        "./notes.txt",
        "https://example.com/a.png",  # a URL is text
        "a cat on ./mat.png, painted",  # prose that merely contains a path
        "",
        "/",
    ],
)
def test_other_strings_are_text(text: str) -> None:
    assert looks_like_local_media_path(text) is None


def test_magic_bytes_beat_the_name_and_the_name_is_the_fallback() -> None:
    assert detect_content_type(PNG_HEAD, "photo.jpg") == "image/png"
    assert detect_content_type(b"plain text", "notes.txt") == "text/plain"
    assert detect_content_type(b"plain text", "clip.mov") == "video/quicktime"
    assert detect_content_type(b"", None) == "application/octet-stream"
    assert detect_content_type(b"BM" + b"\x00" * 60, None) in (
        "image/bmp",
        "application/octet-stream",
    )


async def _collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


async def test_path_source_streams_in_chunks_and_rereads(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_SIZE * 2 + 123)
    target = tmp_path / "big.bin"
    target.write_bytes(data)
    source = await open_source(target)
    assert source.size == len(data)
    assert source.name == "big.bin"
    chunks = [c async for c in source.chunks()]
    assert [len(c) for c in chunks] == [CHUNK_SIZE, CHUNK_SIZE, 123]
    assert await _collect(source.chunks()) == data  # a retry can read it again


async def test_bytes_get_a_name_from_their_type() -> None:
    source = await open_source(PNG_HEAD)
    assert source.content_type == "image/png"
    assert source.name == "file.png"
    named = await open_source(bytearray(PNG_HEAD), filename="cover", content_type="image/webp")
    assert named.content_type == "image/webp"
    assert named.name == "cover.webp"


async def test_seekable_file_objects_upload_from_their_position() -> None:
    buffer = io.BytesIO(b"skip" + PNG_HEAD)
    buffer.seek(4)
    source = await open_source(buffer)
    assert source.size == len(PNG_HEAD)
    assert await _collect(source.chunks()) == PNG_HEAD
    assert await _collect(source.chunks()) == PNG_HEAD


async def test_non_seekable_streams_and_async_iterators_are_spooled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "wb") as writer:
        writer.write(PNG_HEAD * 10)
    with os.fdopen(read_fd, "rb") as pipe:
        source = await open_source(pipe, filename="piped.png")
    try:
        assert source.size == len(PNG_HEAD) * 10
        assert await _collect(source.chunks()) == PNG_HEAD * 10
    finally:
        source.close()

    async def produce() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield PNG_HEAD

    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    spooled = await open_source(produce())
    assert spooled.size == len(PNG_HEAD) * 3
    assert spooled.content_type == "image/png"
    spool_files = list(spool_dir.iterdir())
    assert len(spool_files) == 1
    assert spool_files[0].read_bytes() == PNG_HEAD * 3
    spooled.close()
    spooled.close()  # idempotent
    assert list(spool_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p / "missing.png", "no such file"),
        (lambda p: p, "is a directory"),
        (lambda p: io.StringIO("text"), "text mode"),
        (lambda p: 42, "cannot upload a int"),
    ],
)
async def test_unusable_inputs_are_input_errors(
    tmp_path: Path, make: object, fragment: str
) -> None:
    value = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(InputError, match=fragment):
        await open_source(value, where='input["image"]')


async def test_a_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        await open_source(fifo)


async def test_bad_filename_or_content_type_arguments() -> None:
    with pytest.raises(InputError, match="filename"):
        await open_source(b"x", filename="  ")
    with pytest.raises(InputError, match="MIME type"):
        await open_source(b"x", content_type="png")
