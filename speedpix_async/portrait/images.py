"""``PortraitImage``: a created portrait, decoded from the base64 the service returns."""

from __future__ import annotations

import base64
import binascii
import os
import struct
from pathlib import Path

import anyio
import anyio.to_thread
import attrs

from .._errors import InputError, ResponseValidationError
from ..outputs import write_atomically

__all__ = ["PortraitImage", "PortraitPicture", "decode_image", "image_size", "is_whole"]


def _png(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"\xff\xd8":
        return None
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            index += 2
            continue
        length = int.from_bytes(data[index + 2 : index + 4], "big")
        # Start-of-frame markers carry the size (not DHT C4, JPG C8, DAC CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + length
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


_PNG_END = b"IEND\xaeB`\x82"


def is_whole(kind: str, data: bytes) -> bool:
    """Whether an image of ``kind`` ends where its format says it ends: a PNG with its ``IEND``
    chunk, a JPEG with its end-of-image marker, a WebP as long as its RIFF header declares. A
    picture cut short in transit still has a header (and a size), but not its end."""
    if kind == "png":
        return data.endswith(_PNG_END)
    if kind == "jpeg":
        return data.rstrip(b"\0").endswith(b"\xff\xd9")
    if kind == "webp":
        return len(data) >= int.from_bytes(data[4:8], "little") + 8
    return False


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) read from an image's header, or None if it is no PNG, JPEG or
    WebP."""
    for name, read in (("png", _png), ("jpeg", _jpeg), ("webp", _webp)):
        size = read(data)
        if size is not None:
            return name, size[0], size[1]
    return None


@attrs.frozen(kw_only=True)
class PortraitPicture:
    """A created portrait as a value — its bytes, format and size — shared as it is by
    :class:`PortraitImage` and its blocking twin, which differ only in how ``save`` blocks."""

    data: bytes = attrs.field(repr=False)
    """The image file's bytes (decoded from the service's base64)."""
    format: str
    """``jpeg``, ``png`` or ``webp``."""
    width: int
    height: int
    cost_time: float | None = None
    """Seconds the service spent creating it."""
    request_id: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.width, self.height

    @property
    def nbytes(self) -> int:
        return len(self.data)

    @property
    def extension(self) -> str:
        """``.jpg``, ``.png`` or ``.webp``."""
        return {"jpeg": ".jpg"}.get(self.format, f".{self.format}")

    def _write(self, path: str | os.PathLike[str]) -> Path:
        """Write the bytes to ``path`` atomically (blocking)."""
        target = Path(os.fspath(path)).expanduser()
        if target.is_dir():
            raise InputError(f"cannot save to {str(target)!r}: it is a directory; give a file path")
        write_atomically(target, self.data)
        return target


@attrs.frozen(kw_only=True)
class PortraitImage(PortraitPicture):
    """A created portrait: its bytes, format and size, and ways to keep it."""

    async def read(self) -> bytes:
        """The image file's bytes."""
        return self.data

    async def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the image to ``path`` and return it. Atomic: a temporary file next to ``path``
        is renamed into place, so a failure never leaves a partial file. Refuses a directory
        and does not create missing parents."""
        return await anyio.to_thread.run_sync(self._write, path)


def decode_image(
    encoded: str, *, cost_time: float | None = None, request_id: str | None = None
) -> PortraitImage:
    """The ``image`` field of a create answer, decoded; anything but a base64 PNG, JPEG or WebP
    is a :class:`~speedpix_async.ResponseValidationError`."""
    payload = encoded.split(",", 1)[1] if encoded.startswith("data:") else encoded
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ResponseValidationError(
            f"the created image is not valid base64 ({exc}) @ $.data.image",
            request_id=request_id,
        ) from exc
    found = image_size(data)
    if found is None:
        raise ResponseValidationError(
            f"the created image is not a PNG, JPEG or WebP (starts {data[:8]!r}) @ $.data.image",
            request_id=request_id,
        )
    kind, width, height = found
    if not is_whole(kind, data):
        raise ResponseValidationError(
            f"the created image is cut short: a {kind.upper()} of {len(data):,} bytes without "
            f"its end (its header says {width}×{height}) @ $.data.image",
            request_id=request_id,
            incomplete=True,
        )
    return PortraitImage(
        data=data,
        format=kind,
        width=width,
        height=height,
        cost_time=cost_time,
        request_id=request_id,
    )
