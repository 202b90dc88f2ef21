"""Workflow outputs: ``FileOutput`` and its typed kin, and turning results into them.

In an untyped result every ``http(s)`` URL string becomes a :class:`FileOutput`: a ``str`` (the
URL itself — JSON-serializable, passable back as an input) that can ``save()``, ``read()`` and
stream its bytes through the client that produced it. File objects (``{"url": …, "type":
"image", "width": …}``) keep their shape; their ``url`` becomes a FileOutput carrying the other
fields as :attr:`FileOutput.metadata`, so ``output["images"]["url"].save("x.png")`` works as in
the Python guide.

Typed results (``run(..., output_type=T)``) structure file fields into :class:`ImageFile`,
:class:`VideoFile`, :class:`AudioFile` or :class:`DocumentFile`, with the Go guide's helpers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import anyio
import anyio.to_thread

from ._converter import converter
from ._errors import InputError
from ._redact import redact_url
from .models import TaskResult

if TYPE_CHECKING:
    from ._transport import AsyncTransport

__all__ = [
    "AudioFile",
    "AudioInfo",
    "DimensionsInfo",
    "DocumentFile",
    "DocumentInfo",
    "FileInfo",
    "FileOutput",
    "ImageFile",
    "ImageInfo",
    "VideoFile",
    "VideoInfo",
    "convert_output",
    "output_from_result",
]

F = TypeVar("F", bound="FileInfo")

#: Bytes per chunk when streaming a download.
DOWNLOAD_CHUNK = 1 << 20


def _is_url(value: str) -> bool:
    return value[:8].lower().startswith(("http://", "https://"))


class FileInfo(str):
    """What every file output is, with or without I/O: the URL string plus its metadata.

    Shared by the async :class:`FileOutput` family and its blocking twins, which only add the
    download methods.
    """

    _transport: AsyncTransport | None
    metadata: Mapping[str, Any]
    """Other fields of the file object this URL came from (``type``, ``format``, ``width``…)."""

    def __new__(
        cls: type[F],
        url: str,
        *,
        transport: AsyncTransport | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> F:
        obj = str.__new__(cls, url)
        obj._transport = transport
        obj.metadata = dict(metadata or {})
        return obj

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(str(self))!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle/copy the URL and metadata, never the connection pool.
        return (_rebuild, (type(self), str(self), dict(self.metadata)))

    def _binding(self) -> dict[str, Any]:
        """Keyword arguments that carry this object's connection to a client (for copies)."""
        return {"transport": self._transport}

    def __copy__(self: F) -> F:
        return type(self)(str(self), metadata=self.metadata, **self._binding())

    def __deepcopy__(self: F, memo: dict[int, Any]) -> F:
        return self.__copy__()

    def _rebind(self, cls: type[F], metadata: Mapping[str, Any] | None = None) -> F:
        """The same URL as an instance of ``cls`` (keeping the client binding)."""
        return cls(
            str(self),
            metadata=metadata if metadata is not None else self.metadata,
            **self._binding(),
        )

    @property
    def url(self) -> str:
        """The URL as a plain ``str``."""
        return str(self)

    @property
    def filename(self) -> str:
        """The file name from the metadata, else the last segment of the URL's path."""
        name = self.metadata.get("filename")
        if isinstance(name, str) and name:
            return name
        return redact_url(str(self)).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "file"

    @property
    def type(self) -> Optional[str]:
        """The file object's ``type`` (``image``, ``video``, ``audio``…), if given."""
        value = self.metadata.get("type")
        return value if isinstance(value, str) else None


class FileOutput(FileInfo):
    """A file produced by a workflow: the URL string, plus ways to fetch it.

    Downloads go through the client that produced the output (its pool, timeouts and retries),
    so use them while that client is open. Output URLs expire; save what you need soon.
    """

    def _require_transport(self) -> AsyncTransport:
        transport = self._transport
        if transport is None:
            raise InputError(
                f"{self!r} is not bound to a client; use client.files.from_url(url) to download it"
            )
        return transport

    async def aiter_bytes(self, chunk_size: int = DOWNLOAD_CHUNK) -> AsyncIterator[bytes]:
        """Stream the file's bytes (a connection lost mid-stream raises
        :class:`~speedpix_async.APIConnectionError`; nothing is retried once bytes were yielded)."""
        transport = self._require_transport()
        async with transport.stream_get(str(self), chunk_size) as chunks:
            async for chunk in chunks:
                yield chunk

    async def read(self) -> bytes:
        """The whole file in memory (prefer :meth:`save` for large files). Retried on failure."""
        return await self._require_transport().download_bytes(str(self), DOWNLOAD_CHUNK)

    async def save(self, path: str | os.PathLike[str]) -> Path:
        """Download to ``path`` and return it.

        Streams into a temporary file next to ``path`` and renames it into place only when the
        download completed, so a failure never leaves a partial file; a download cut off
        mid-stream is retried from the start. Refuses a directory as
        ``path`` and does not create missing parent directories (nothing is written outside
        the path you give).
        """
        target = Path(await anyio.Path(os.fspath(path)).expanduser())
        if await anyio.Path(target).is_dir():
            raise InputError(f"cannot save to {str(target)!r}: it is a directory; give a file path")
        parent = target.parent
        if not await anyio.Path(parent).is_dir():
            raise InputError(
                f"cannot save to {str(target)!r}: the directory {str(parent)!r} does not exist; "
                "create it first"
            )
        transport = self._require_transport()
        temp = await anyio.to_thread.run_sync(_create_partial, target)
        try:
            # httpx itself raises when a body ends short of its Content-Length.
            await transport.download_file(str(self), temp, DOWNLOAD_CHUNK)
            await anyio.to_thread.run_sync(os.replace, temp, target)
        except BaseException:
            # Shielded: a cancelled save must still remove its partial file.
            with anyio.CancelScope(shield=True):
                await anyio.Path(temp).unlink(missing_ok=True)
            raise
        return target


def _create_partial(target: Path) -> Path:
    """An empty ``.<name>.<random>.part`` next to ``target``, created exclusively.

    Not ``tempfile.mkstemp``: its 0600 mode would carry over to the saved file; ``os.open`` with
    0666 lets the umask decide, as for any file the user creates.
    """
    for _ in range(100):
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"could not create a temporary file next to {target}")


def _rebuild(cls: type[FileInfo], url: str, metadata: dict[str, Any]) -> FileInfo:
    return cls(url, metadata=metadata)


def _number(metadata: Mapping[str, Any], *keys: str) -> Optional[float]:
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                continue
    return None


def _integer(metadata: Mapping[str, Any], *keys: str) -> Optional[int]:
    value = _number(metadata, *keys)
    return None if value is None else int(value)


def _text(metadata: Mapping[str, Any], *keys: str) -> Optional[str]:
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class DimensionsInfo(FileInfo):
    """Width/height helpers shared by images and videos."""

    @property
    def width(self) -> Optional[int]:
        return _integer(self.metadata, "width")

    @property
    def height(self) -> Optional[int]:
        return _integer(self.metadata, "height")

    @property
    def file_format(self) -> Optional[str]:
        """``png``, ``webp``, ``mp4``… from the metadata, else the URL's extension.

        (The Go SDK's ``Format``; named so because ``str.format`` must stay intact.)"""
        found = _text(self.metadata, "format")
        if found:
            return found.lower()
        suffix = Path(self.filename).suffix
        return suffix[1:].lower() if suffix else None

    @property
    def aspect_ratio(self) -> Optional[float]:
        """``width / height``, or None when unknown."""
        if not self.width or not self.height:
            return None
        return self.width / self.height

    @property
    def is_square(self) -> bool:
        return self.width is not None and self.width == self.height

    @property
    def is_portrait(self) -> bool:
        return self.width is not None and self.height is not None and self.height > self.width

    @property
    def is_landscape(self) -> bool:
        return self.width is not None and self.height is not None and self.width > self.height


class ImageInfo(DimensionsInfo):
    """Image metadata (PROTOCOL A.4.3) and the Go guide's helpers."""

    @property
    def dpi(self) -> Optional[int]:
        return _integer(self.metadata, "dpi")

    @property
    def color_space(self) -> Optional[str]:
        return _text(self.metadata, "color_space", "colorSpace")

    @property
    def object_key(self) -> Optional[str]:
        return _text(self.metadata, "object_key", "objectKey")


class VideoInfo(DimensionsInfo):
    """Video metadata and the Go guide's helpers."""

    @property
    def duration(self) -> Optional[float]:
        """Seconds."""
        return _number(self.metadata, "duration")

    @property
    def frame_rate(self) -> Optional[float]:
        return _number(self.metadata, "frame_rate", "fps", "frameRate")

    @property
    def codec(self) -> Optional[str]:
        return _text(self.metadata, "codec")

    @property
    def has_audio(self) -> bool:
        return bool(self.metadata.get("has_audio") or self.metadata.get("hasAudio"))

    @property
    def is_hd(self) -> bool:
        """At least 720p (the shorter side ≥ 720 px)."""
        return (
            self.width is not None
            and self.height is not None
            and min(self.width, self.height) >= 720
        )

    @property
    def is_4k(self) -> bool:
        """At least 2160p (the shorter side ≥ 2160 px)."""
        return (
            self.width is not None
            and self.height is not None
            and min(self.width, self.height) >= 2160
        )

    @property
    def resolution(self) -> Optional[str]:
        """``"1920x1080"``, or None when unknown."""
        if self.width is None or self.height is None:
            return None
        return f"{self.width}x{self.height}"


class AudioInfo(FileInfo):
    """Audio metadata."""

    @property
    def duration(self) -> Optional[float]:
        return _number(self.metadata, "duration")

    @property
    def sample_rate(self) -> Optional[int]:
        return _integer(self.metadata, "sample_rate", "sampleRate")

    @property
    def bitrate(self) -> Optional[int]:
        return _integer(self.metadata, "bitrate")

    @property
    def channels(self) -> Optional[int]:
        return _integer(self.metadata, "channels")

    @property
    def file_format(self) -> Optional[str]:
        return _text(self.metadata, "format")


class DocumentInfo(FileInfo):
    """Document metadata."""

    @property
    def pages(self) -> Optional[int]:
        return _integer(self.metadata, "pages")

    @property
    def language(self) -> Optional[str]:
        return _text(self.metadata, "language")

    @property
    def author(self) -> Optional[str]:
        return _text(self.metadata, "author")


class ImageFile(ImageInfo, FileOutput):
    """An image output: metadata (``width``, ``height``, ``file_format``…), the Go guide's
    helpers (``aspect_ratio``, ``is_square``, ``is_portrait``, ``is_landscape``) and downloads."""


class VideoFile(VideoInfo, FileOutput):
    """A video (or animated) output: metadata, ``is_hd``, ``is_4k``, ``resolution``, downloads."""


class AudioFile(AudioInfo, FileOutput):
    """An audio output: ``duration``, ``sample_rate``, ``bitrate``, ``channels``, downloads."""


class DocumentFile(DocumentInfo, FileOutput):
    """A document output: ``pages``, ``language``, ``author``, downloads."""


# ----------------------------------------------------------------------------- conversion


def _is_file_object(value: Mapping[str, Any]) -> bool:
    url = value.get("url")
    return isinstance(url, str) and _is_url(url)


def convert_output(value: Any, transport: AsyncTransport | None) -> Any:
    """Replace every http(s) URL string in ``value`` with a bound :class:`FileOutput`."""
    if isinstance(value, FileOutput):
        return value
    if isinstance(value, str):
        return FileOutput(value, transport=transport) if _is_url(value) else value
    if isinstance(value, Mapping):
        if _is_file_object(value):
            metadata = {k: v for k, v in value.items() if k != "url"}
            converted = {k: convert_output(v, transport) for k, v in value.items() if k != "url"}
            converted["url"] = FileOutput(value["url"], transport=transport, metadata=metadata)
            return converted
        return {k: convert_output(v, transport) for k, v in value.items()}
    if isinstance(value, list):
        return [convert_output(item, transport) for item in value]
    return value


def output_from_result(result: TaskResult, transport: AsyncTransport | None) -> Any:
    """The output of a succeeded task: its custom output fields (``result``), or, for a workflow
    published without custom outputs, ``{"images": [...]}`` from the default image list."""
    raw = result.result if result.result is not None else {"images": list(result.images)}
    return convert_output(raw, transport)


# -------------------------------------------------------------- typed-result structure hooks


def _structure_file(value: Any, cls: type[FileInfo]) -> FileInfo:
    """A file field accepts a URL string (or FileOutput) or a file object with ``url``."""
    if isinstance(value, FileInfo):
        return value._rebind(cls)
    if isinstance(value, str):
        if not _is_url(value):
            raise ValueError(f"expected a file URL, got {value[:60]!r}")
        return cls(value)
    if isinstance(value, Mapping):
        url = value.get("url")
        if not isinstance(url, str):
            raise ValueError("expected a file object with a 'url' string")
        metadata = {k: v for k, v in value.items() if k != "url"}
        if isinstance(url, FileInfo):
            return url._rebind(cls, metadata)
        return cls(url, metadata=metadata)
    raise ValueError(f"expected a file URL or file object, got {type(value).__name__}")


# Registered by class (cattrs' singledispatch, which covers subclasses — the blocking twins
# too — and is consulted before its built-in str handling would turn a file object into
# "{'url': …}").
converter.register_structure_hook(FileInfo, _structure_file)
