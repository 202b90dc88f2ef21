"""Workflow outputs: ``FileOutput`` and its typed kinds, and turning results into them.

In an untyped result every ``http(s)`` URL string becomes a :class:`FileOutput`: a ``str`` (the
URL itself — JSON-serializable, passable back as an input) that can ``save()``, ``read()`` and
stream its bytes through the client that produced it. File objects (``{"url": …, "type":
"image", "width": …}``) keep their shape; their ``url`` becomes a FileOutput carrying the other
fields as :attr:`FileOutput.metadata`, so ``output["images"]["url"].save("x.png")`` works as in
the Python guide.

Typed results (``run(..., output_type=T)``) structure file fields into :class:`ImageFile`,
:class:`VideoFile`, :class:`AudioFile` or :class:`DocumentFile` — each a :class:`FileOutput`
with the Go guide's helpers.
"""

from __future__ import annotations

import contextvars
import errno
import glob
import os
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread

from ._converter import converter, structure
from ._errors import InputError
from ._redact import redact_url
from .speedpix.models import TaskResult

if TYPE_CHECKING:
    from ._core.storage import Storage

__all__ = [
    "AudioFile",
    "AudioInfo",
    "Dimensions",
    "DocumentFile",
    "DocumentInfo",
    "FileInfo",
    "FileOutput",
    "ImageFile",
    "ImageInfo",
    "VideoFile",
    "VideoInfo",
    "convert_output",
    "create_partial",
    "file_output",
    "output_from_result",
    "structure_output",
    "write_atomically",
]

F = TypeVar("F", bound="FileOutput")

#: Bytes per chunk when streaming a download.
DOWNLOAD_CHUNK = 1 << 20

#: The client storage file fields are bound to while a typed result is being structured.
_binding: contextvars.ContextVar[Storage | None] = contextvars.ContextVar(
    "speedpix_async.outputs.binding", default=None
)


def _is_url(value: str) -> bool:
    return value[:8].lower().startswith(("http://", "https://"))


def _number(metadata: Mapping[str, Any], *keys: str) -> float | None:
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


def _integer(metadata: Mapping[str, Any], *keys: str) -> int | None:
    value = _number(metadata, *keys)
    return None if value is None else int(value)


def _text(metadata: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class FileInfo:
    """What a file output says about itself — read from its URL and its metadata, no I/O — the
    same for async outputs and their blocking twins (both are ``str`` subclasses holding the
    URL, and provide ``metadata``)."""

    if TYPE_CHECKING:

        @property
        def metadata(self) -> Mapping[str, Any]:
            """Other fields of the file object this URL came from (``type``, ``format``,
            ``width``…)."""

    @property
    def url(self) -> str:
        """The URL as a plain ``str``."""
        return str(self)

    @property
    def filename(self) -> str:
        """The file name from the metadata, else the last segment of the URL's path."""
        return _filename(self.url, self.metadata)

    @property
    def type(self) -> str | None:
        """The file object's ``type`` (``image``, ``video``, ``audio``…), if given."""
        value = self.metadata.get("type")
        return value if isinstance(value, str) else None


class FileOutput(FileInfo, str):
    """A file produced by a workflow: the URL string, its metadata, and ways to fetch it.

    Downloads go through the client that produced the output (its pool, timeouts and retries),
    so use them while that client is open. Output URLs expire; save what you need soon.
    """

    _storage: Storage | None
    _metadata: Mapping[str, Any]

    def __new__(
        cls: type[F],
        url: str,
        *,
        storage: Storage | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> F:
        self = str.__new__(cls, url)
        self._storage = storage
        self._metadata = dict(metadata or {})
        return self

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Other fields of the file object this URL came from (``type``, ``format``, ``width``…)."""
        return self._metadata

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(str(self))!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle the URL and metadata, never the connection pool.
        return (_unbound, (type(self), str(self), dict(self.metadata)))

    def __copy__(self: F) -> F:
        return type(self)(str(self), storage=self._storage, metadata=self.metadata)

    def __deepcopy__(self: F, memo: dict[int, Any]) -> F:
        return self.__copy__()

    def _require_storage(self) -> Storage:
        storage = self._storage
        if storage is None:
            raise InputError(
                f"{self!r} is not bound to a client; use client.files.from_url(url) to download it"
            )
        return storage

    async def aiter_bytes(self, chunk_size: int = DOWNLOAD_CHUNK) -> AsyncIterator[bytes]:
        """Stream the file's bytes (a connection lost mid-stream raises
        :class:`~speedpix_async.APIConnectionError`; nothing is retried once bytes were yielded)."""
        async with self._require_storage().stream(str(self), chunk_size) as chunks:
            async for chunk in chunks:
                yield chunk

    async def read(self) -> bytes:
        """The whole file in memory (prefer :meth:`save` for large files). Retried on failure."""
        return await self._require_storage().download_bytes(str(self), DOWNLOAD_CHUNK)

    async def save(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Download to ``path`` and return it.

        Streams into a temporary file next to ``path`` and renames it into place only when the
        download completed, so a failure never leaves a partial file; a download cut off
        mid-stream is retried from the start. Refuses a directory as ``path`` and does not
        create missing parent directories (nothing is written outside the path you give).
        ``overwrite=False`` never replaces an existing file: :class:`FileExistsError` if one is
        there when the download completes (checked atomically where the file system has hard
        links).
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
        if not overwrite and await anyio.Path(target).exists():
            raise _exists(target)
        storage = self._require_storage()
        temp = await anyio.to_thread.run_sync(create_partial, target)
        try:
            # A body that ends short of its Content-Length raises in the backend.
            await storage.download_to(str(self), temp, DOWNLOAD_CHUNK)
            await anyio.to_thread.run_sync(_put_in_place, temp, target, overwrite)
        except BaseException:
            # Shielded: a cancelled save must still remove its partial file.
            with anyio.CancelScope(shield=True):
                await anyio.Path(temp).unlink(missing_ok=True)
            raise
        return target


def _exists(target: Path) -> FileExistsError:
    return FileExistsError(
        errno.EEXIST, "not replaced (overwrite=False): a file is already there", str(target)
    )


def _put_in_place(temp: Path, target: Path, overwrite: bool) -> None:
    """Rename ``temp`` to ``target``; without ``overwrite``, only if nothing is there."""
    if overwrite:
        os.replace(temp, target)
        return
    try:
        # A hard link fails if the name exists: a no-clobber rename without a race.
        os.link(temp, target)
    except FileExistsError:
        raise _exists(target) from None
    except OSError:
        # No hard links here (some network and FUSE file systems): check, then rename.
        if os.path.lexists(target):
            raise _exists(target) from None
        os.replace(temp, target)
        return
    os.unlink(temp)


def _filename(url: str, metadata: Mapping[str, Any]) -> str:
    name = metadata.get("filename")
    if isinstance(name, str) and name:
        return name
    return redact_url(url).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "file"


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file renamed into place (blocking; run
    it in a thread). A failure leaves nothing behind; a missing parent is an InputError."""
    if not target.parent.is_dir():
        raise InputError(
            f"cannot save to {str(target)!r}: the directory {str(target.parent)!r} does not "
            "exist; create it first"
        )
    temp = create_partial(target)
    try:
        temp.write_bytes(data)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _unbound(cls: type[FileOutput], url: str, metadata: dict[str, Any]) -> FileOutput:
    return cls(url, metadata=metadata)


#: ``.<name>.<8 hex digits>.part``: the temporary file a save downloads into.
_PARTIAL_NAME = re.compile(r"\..+\.[0-9a-f]{8}\.part")


def leftover_partials(folder: Path, name: str | None = None) -> list[Path]:
    """The temporary files of saves into ``folder`` (only those of the file ``name``, if given)
    that never finished: a process killed mid-download cannot remove its own."""
    pattern = "*" if name is None else glob.escape(name)
    return [
        path
        for path in folder.glob(f".{pattern}.*.part")
        if _PARTIAL_NAME.fullmatch(path.name) and path.is_file()
    ]


def create_partial(target: Path) -> Path:
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


class Dimensions(FileInfo):
    """Width/height helpers shared by images and videos (reads ``metadata`` and the URL)."""

    @property
    def width(self) -> int | None:
        return _integer(self.metadata, "width")

    @property
    def height(self) -> int | None:
        return _integer(self.metadata, "height")

    @property
    def file_format(self) -> str | None:
        """``png``, ``webp``, ``mp4``… from the metadata, else the URL's extension.

        (The Go SDK's ``Format``; named so because ``str.format`` must stay intact.)"""
        found = _text(self.metadata, "format")
        if found:
            return found.lower()
        suffix = Path(self.filename).suffix
        return suffix[1:].lower() if suffix else None

    @property
    def aspect_ratio(self) -> float | None:
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


class ImageInfo(Dimensions):
    """What an image output says about itself (see :class:`ImageFile`)."""

    @property
    def dpi(self) -> int | None:
        return _integer(self.metadata, "dpi")

    @property
    def color_space(self) -> str | None:
        return _text(self.metadata, "color_space", "colorSpace")

    @property
    def object_key(self) -> str | None:
        return _text(self.metadata, "object_key", "objectKey")


class VideoInfo(Dimensions):
    """What a video output says about itself (see :class:`VideoFile`)."""

    @property
    def duration(self) -> float | None:
        """Seconds."""
        return _number(self.metadata, "duration")

    @property
    def frame_rate(self) -> float | None:
        return _number(self.metadata, "frame_rate", "fps", "frameRate")

    @property
    def codec(self) -> str | None:
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
    def resolution(self) -> str | None:
        """``"1920x1080"``, or None when unknown."""
        if self.width is None or self.height is None:
            return None
        return f"{self.width}x{self.height}"


class AudioInfo(FileInfo):
    """What an audio output says about itself (see :class:`AudioFile`)."""

    @property
    def duration(self) -> float | None:
        return _number(self.metadata, "duration")

    @property
    def sample_rate(self) -> int | None:
        return _integer(self.metadata, "sample_rate", "sampleRate")

    @property
    def bitrate(self) -> int | None:
        return _integer(self.metadata, "bitrate")

    @property
    def channels(self) -> int | None:
        return _integer(self.metadata, "channels")

    @property
    def file_format(self) -> str | None:
        return _text(self.metadata, "format")


class DocumentInfo(FileInfo):
    """What a document output says about itself (see :class:`DocumentFile`)."""

    @property
    def pages(self) -> int | None:
        return _integer(self.metadata, "pages")

    @property
    def language(self) -> str | None:
        return _text(self.metadata, "language")

    @property
    def author(self) -> str | None:
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


def convert_output(value: Any, storage: Storage | None) -> Any:
    """Replace every http(s) URL string in ``value`` with a bound :class:`FileOutput`."""
    if isinstance(value, FileOutput):
        return value
    if isinstance(value, str):
        return FileOutput(value, storage=storage) if _is_url(value) else value
    if isinstance(value, Mapping):
        if _is_file_object(value):
            metadata = {k: v for k, v in value.items() if k != "url"}
            converted = {k: convert_output(v, storage) for k, v in value.items() if k != "url"}
            converted["url"] = FileOutput(value["url"], storage=storage, metadata=metadata)
            return converted
        return {k: convert_output(v, storage) for k, v in value.items()}
    if isinstance(value, list):
        return [convert_output(item, storage) for item in value]
    return value


def output_from_result(result: TaskResult, storage: Storage | None) -> Any:
    """The output of a succeeded task: its custom output fields (``result``), or, for a workflow
    published without custom outputs, ``{"images": [...]}`` from the default image list."""
    raw = result.result if result.result is not None else {"images": list(result.images)}
    return convert_output(raw, storage)


def structure_output(output: Any, output_type: Any, storage: Storage | None) -> Any:
    """``output`` structured into ``output_type`` (``run(..., output_type=)``), file fields bound
    to ``storage``; a mismatch raises :class:`~speedpix_async.ResponseValidationError`."""
    token = _binding.set(storage)
    try:
        return structure(output, output_type, what="the workflow output", path="$")
    finally:
        _binding.reset(token)


def file_output(value: Any, cls: type[F]) -> F:
    """A file field of a typed result: a URL string (or FileOutput), or a file object with
    ``url``. Bound to the client whose result is being structured."""
    storage = _binding.get()
    if isinstance(value, str):
        if not _is_url(value):
            raise ValueError(f"expected a file URL, got {value[:60]!r}")
        metadata = value.metadata if isinstance(value, FileOutput) else None
        return cls(str(value), storage=storage, metadata=metadata)
    if isinstance(value, Mapping):
        url = value.get("url")
        if not isinstance(url, str):
            raise ValueError("expected a file object with a 'url' string")
        metadata = {k: v for k, v in value.items() if k != "url"}
        return cls(str(url), storage=storage, metadata=metadata)
    raise ValueError(f"expected a file URL or file object, got {type(value).__name__}")


# Registered by class (cattrs' singledispatch covers subclasses) and consulted before its
# built-in str handling would turn a file object into "{'url': …}".
converter.register_structure_hook(FileOutput, file_output)
