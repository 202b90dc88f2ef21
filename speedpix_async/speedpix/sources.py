"""Files to upload: one re-readable, streamed source per input, whatever its kind.

A :class:`FileSource` knows its name, size and content type up front (the signed upload needs
them, and the PUT carries ``Content-Length``) and can stream its bytes any number of times, so an
idempotent PUT can be retried. Bodies are read in :data:`CHUNK_SIZE` pieces, never whole: memory
stays flat however large the file. Inputs that cannot be re-read or sized (an async iterator, a
pipe) are spooled to a temporary file first, which is deleted when the source is closed.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import stat
import tempfile
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
)
from pathlib import Path
from typing import Any, BinaryIO, Union, cast

import anyio
import anyio.to_thread
import attrs

from .._errors import InputError

__all__ = [
    "BASE64_LIMIT",
    "CHUNK_SIZE",
    "MEDIA_EXTENSIONS",
    "FileInput",
    "FileSource",
    "detect_content_type",
    "is_media",
    "open_source",
]

#: Bytes per read and per body chunk: 1 MiB keeps a 512 MiB upload at a few MiB of memory while
#: keeping thread hops (one per chunk) cheap.
CHUNK_SIZE = 1 << 20
#: Bytes read from the start of a file to recognise its type.
MAGIC_BYTES = 4096
#: Largest file ``file_encoding_strategy="base64"`` inlines (both official SDKs use 1 MiB).
BASE64_LIMIT = 1 << 20
#: Extensions the guides list for automatic local-file detection.
MEDIA_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff",
        ".mp4", ".mov", ".avi", ".webm", ".mkv",
        ".mp3", ".wav", ".flac", ".m4a", ".ogg",
    }
)  # fmt: skip
DEFAULT_CONTENT_TYPE = "application/octet-stream"

#: What puremagic reports for a few formats, mapped to the registered names servers expect.
_CANONICAL_TYPES = {
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "audio/wave": "audio/wav",
    "audio/x-wav": "audio/wav",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
}
_EXTENSION_FOR = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/flac": ".flac",
    "audio/ogg": ".ogg",
}

FileInput = Union[
    str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO, AsyncIterable[bytes]
]


def _canonical(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    return _CANONICAL_TYPES.get(base, base)


def detect_content_type(head: bytes, name: str | None) -> str:
    """The MIME type from the file's first bytes, else from its name, else octet-stream.

    The bytes win when both speak: a JPEG saved as ``photo.png`` is still a JPEG, and the
    presigned upload binds the type we declare.
    """
    if head:
        import puremagic

        try:
            found = puremagic.from_string(head, mime=True)
        except (puremagic.PureError, ValueError):
            found = ""
        if found:
            return _canonical(found)
    if name:
        guessed, _ = mimetypes.guess_type(name)
        if guessed:
            return _canonical(guessed)
    return DEFAULT_CONTENT_TYPE


def _with_extension(name: str, content_type: str) -> str:
    """``file`` → ``file.png`` when the name has no extension but the type is known."""
    if Path(name).suffix:
        return name
    suffix = _EXTENSION_FOR.get(content_type) or mimetypes.guess_extension(content_type) or ""
    return name + suffix


@attrs.define(eq=False)
class FileSource:
    """A file ready to upload (or inline): name, size, type and a way to stream it."""

    name: str
    size: int
    content_type: str
    identity: Hashable
    """Two references with the same identity are the same file (uploaded once)."""
    _open: Callable[[], AsyncGenerator[bytes, None]]
    _cleanup: Callable[[], None] | None = None

    def chunks(self) -> AsyncGenerator[bytes, None]:
        """A fresh stream of the file's bytes (call again to re-read, e.g. for a retry)."""
        return self._open()

    async def read_all(self) -> bytes:
        """The whole content; only for small files (base64 inlining)."""
        parts = [chunk async for chunk in self.chunks()]
        return b"".join(parts)

    def close(self) -> None:
        """Delete the spool file, if any. Safe to call twice."""
        if self._cleanup is not None:
            cleanup, self._cleanup = self._cleanup, None
            cleanup()


def _shorter(where: str, label: str, size: int, got: int) -> InputError:
    return InputError(
        f"{where}: {label} is shorter than its reported size (read {got:,} of {size:,} bytes); "
        "it changed while being read — pass it again once it is stable, or pass its bytes"
    )


def _larger(where: str, label: str, size: int) -> InputError:
    return InputError(
        f"{where}: {label} is larger than its reported size of {size:,} bytes (a special file "
        "such as those under /proc, or a file that grew while being read); copy it to a regular "
        "file, or pass its bytes"
    )


def _path_chunks(path: Path, size: int, where: str) -> Callable[[], AsyncGenerator[bytes, None]]:
    """Stream exactly ``size`` bytes; a file that ends early or goes on past it is refused,
    so what is sent is what was measured (and never more than a limit checked on ``size``)."""
    label = repr(str(path))

    async def stream() -> AsyncGenerator[bytes, None]:
        async with await anyio.open_file(path, "rb") as handle:
            async for chunk in _exactly(handle.read, size, where, label):
                yield chunk
            if await handle.read(1):
                raise _larger(where, label, size)

    return stream


async def _exactly(
    read: Callable[[int], Awaitable[bytes]], size: int, where: str, label: str
) -> AsyncIterator[bytes]:
    """``size`` bytes from ``read`` in :data:`CHUNK_SIZE` pieces; ending early is refused."""
    remaining = size
    while remaining > 0:
        chunk = await read(min(CHUNK_SIZE, remaining))
        if not chunk:
            raise _shorter(where, label, size, size - remaining)
        remaining -= len(chunk)
        yield chunk


def _check_head(head: bytes, size: int, where: str, label: str) -> None:
    """The first read must agree with the measured size, before anything is sent."""
    if len(head) > size:
        raise _larger(where, label, size)
    if len(head) < min(size, MAGIC_BYTES):
        raise _shorter(where, label, size, len(head))


def is_media(content_type: str) -> bool:
    """Whether a content type is an image, a video or audio."""
    return content_type.startswith(("image/", "video/", "audio/"))


async def _source_from_path(
    path: Path,
    where: str,
    *,
    filename: str | None,
    content_type: str | None,
    cleanup: Callable[[], None] | None = None,
    media_only: bool = False,
) -> FileSource:
    label = repr(str(path))

    def inspect() -> tuple[os.stat_result, bytes, str]:
        resolved = Path(os.path.realpath(path.expanduser()))
        try:
            info = resolved.stat()
        except FileNotFoundError:
            raise InputError(f"{where}: no such file {str(path)!r}; check the path") from None
        except OSError as exc:
            raise InputError(f"{where}: cannot access {str(path)!r} ({exc.strerror})") from exc
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{where}: {str(path)!r} is a directory, not a file; pass a file path")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"{where}: {str(path)!r} is not a regular file (a FIFO, socket or device); "
                "pass a regular file, or its bytes"
            )
        try:
            with open(resolved, "rb") as handle:
                head = handle.read(MAGIC_BYTES)
        except OSError as exc:
            raise InputError(
                f"{where}: cannot read {str(path)!r} ({exc.strerror}); check its permissions"
            ) from exc
        _check_head(head, info.st_size, where, label)
        return info, head, str(resolved)

    info, head, real = await anyio.to_thread.run_sync(inspect)
    if media_only and not is_media(sniffed := detect_content_type(head, None)):
        # A string is only taken for a file because it looks like a media path; the bytes must
        # agree, so a renamed or symlinked text file (a .env, a key) is never sent as a picture.
        raise InputError(
            f"{where}: {label} is written as a media file path but is not an image, video or "
            f"audio file (its content reads as {sniffed}); pass Path({str(path)!r}) to upload "
            "it anyway, or build the client with upload_local_paths=False to send the string "
            "as text"
        )
    name = filename or path.name or "file"
    ctype = _canonical(content_type) if content_type else detect_content_type(head, name)
    return FileSource(
        name=_with_extension(name, ctype),
        size=info.st_size,
        content_type=ctype,
        identity=("path", real, info.st_size, info.st_mtime_ns),
        open=_path_chunks(Path(real), info.st_size, where),
        cleanup=cleanup,
    )


def _bytes_source(data: bytes, *, filename: str | None, content_type: str | None) -> FileSource:
    view = memoryview(data)

    async def stream() -> AsyncGenerator[bytes, None]:
        for start in range(0, len(view), CHUNK_SIZE):
            yield bytes(view[start : start + CHUNK_SIZE])

    ctype = (
        _canonical(content_type)
        if content_type
        else detect_content_type(data[:MAGIC_BYTES], filename)
    )
    return FileSource(
        name=_with_extension(filename or "file", ctype),
        size=len(data),
        content_type=ctype,
        identity=("bytes", hashlib.sha256(data).hexdigest()),
        open=stream,
    )


def _file_name(obj: Any) -> str | None:
    name = getattr(obj, "name", None)
    return os.path.basename(name) if isinstance(name, str) and name else None


async def _spool(
    chunks: AsyncIterator[bytes], where: str, name: str
) -> tuple[Path, Callable[[], None]]:
    """Write a stream to a temporary file (bounded memory) and return it with its cleanup."""
    fd, raw = tempfile.mkstemp(prefix="speedpix-upload-", suffix=Path(name).suffix)
    os.close(fd)
    path = Path(raw)

    def cleanup() -> None:
        path.unlink(missing_ok=True)

    try:
        async with await anyio.open_file(path, "wb") as out:
            async for chunk in chunks:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise InputError(
                        f"{where}: the async iterator yielded {type(chunk).__name__}; it must "
                        "yield bytes"
                    )
                await out.write(chunk)
    except BaseException:
        cleanup()
        raise
    return path, cleanup


async def _spool_source(
    path: Path, cleanup: Callable[[], None], where: str, *, name: str, content_type: str | None
) -> FileSource:
    """A source reading a spool file, which is deleted when the source closes (or now, if
    opening it fails)."""
    try:
        return await _source_from_path(
            path, where, filename=name, content_type=content_type, cleanup=cleanup
        )
    except BaseException:
        cleanup()
        raise


def _refuse_devices(obj: Any, where: str) -> None:
    """A device (``/dev/zero``, a disk, a terminal) has no size to upload: reads never end or
    stop at an arbitrary point. Pipes and sockets are fine; they are spooled."""
    try:
        mode = os.fstat(obj.fileno()).st_mode
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise InputError(
            f"{where}: the file object {_file_name(obj) or ''!r} is a device, not a regular file; "
            "copy what you need to a regular file, or pass its bytes"
        )


async def _source_from_fileobj(
    obj: Any, where: str, *, filename: str | None, content_type: str | None
) -> FileSource:
    if isinstance(obj, io.TextIOBase):
        raise InputError(f"{where}: the file is open in text mode; open it with 'rb'")
    name = filename or _file_name(obj) or "file"
    _refuse_devices(obj, where)
    seekable = False
    try:
        seekable = bool(obj.seekable())
    except (AttributeError, OSError, ValueError):
        seekable = False
    if not seekable:

        async def drain() -> AsyncIterator[bytes]:
            while True:
                chunk = await anyio.to_thread.run_sync(obj.read, CHUNK_SIZE)
                if isinstance(chunk, str):
                    raise InputError(f"{where}: the file object returns text; open it with 'rb'")
                if not chunk:
                    return
                yield chunk

        path, cleanup = await _spool(drain(), where, name)
        return await _spool_source(path, cleanup, where, name=name, content_type=content_type)

    def measure() -> tuple[int, int, Any]:
        start = obj.tell()
        end = obj.seek(0, os.SEEK_END)
        obj.seek(start)
        head = obj.read(MAGIC_BYTES)
        obj.seek(start)
        return start, end - start, head

    try:
        start, size, head = await anyio.to_thread.run_sync(measure)
    except (OSError, ValueError) as exc:
        raise InputError(f"{where}: cannot read the file object ({exc})") from exc
    if isinstance(head, str):
        raise InputError(f"{where}: the file object returns text; open it with 'rb'")
    label = f"the file object {name!r}"
    _check_head(head, size, where, label)
    lock = anyio.Lock()

    async def read_in_thread(count: int) -> bytes:
        chunk: bytes = await anyio.to_thread.run_sync(obj.read, count)
        return chunk

    async def stream() -> AsyncGenerator[bytes, None]:
        # One reader at a time: the object has a single position, and a retry must start over.
        async with lock:
            await anyio.to_thread.run_sync(obj.seek, start)
            async for chunk in _exactly(read_in_thread, size, where, label):
                yield chunk

    ctype = _canonical(content_type) if content_type else detect_content_type(head, name)
    return FileSource(
        name=_with_extension(name, ctype),
        size=size,
        content_type=ctype,
        identity=("fileobj", id(obj)),
        open=stream,
    )


async def open_source(
    value: Any,
    *,
    where: str = "file",
    filename: str | None = None,
    content_type: str | None = None,
    media_only: bool = False,
) -> FileSource:
    """Turn a path, bytes, binary file object or async byte iterator into a :class:`FileSource`.

    Raises :class:`InputError` (naming ``where``) for a missing, unreadable or non-regular file,
    a text-mode file object, a size that the bytes read do not match, or a value of another
    type. ``media_only`` (for strings taken as paths) also refuses a path whose content is not an
    image, video or audio file. Call :meth:`FileSource.close` when done.
    """
    if filename is not None and (not isinstance(filename, str) or not filename.strip()):
        raise InputError(f"filename must be a non-empty string, got {filename!r}")
    if content_type is not None and (not isinstance(content_type, str) or "/" not in content_type):
        raise InputError(
            f"content_type must be a MIME type such as 'image/png', got {content_type!r}"
        )
    if isinstance(value, (str, os.PathLike)):
        return await _source_from_path(
            Path(os.fspath(value)),
            where,
            filename=filename,
            content_type=content_type,
            media_only=media_only,
        )
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes_source(bytes(value), filename=filename, content_type=content_type)
    if hasattr(value, "__aiter__"):
        name = filename or "file"
        path, cleanup = await _spool(cast(AsyncIterable[bytes], value).__aiter__(), where, name)
        return await _spool_source(path, cleanup, where, name=name, content_type=content_type)
    if callable(getattr(value, "read", None)):
        return await _source_from_fileobj(
            value, where, filename=filename, content_type=content_type
        )
    raise InputError(
        f"{where}: cannot upload a {type(value).__name__}; pass a path (str or Path), bytes, a "
        "binary file object (open(..., 'rb'), io.BytesIO) or an async iterator of bytes"
    )
