"""Content-encoding for every backend: inflating ``gzip``/``deflate`` bodies ourselves, in
bounded steps, so a small compressed answer can never cost more memory than the cap it is
read under (a "gzip bomb" costs the cap and one step).

Backends hand over the raw bytes as they arrive; both the capped reads of API answers and the
streamed downloads go through :class:`Decoder`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from typing import Any

__all__ = [
    "ACCEPT_ENCODING",
    "INFLATE_STEP",
    "Decoder",
    "UndecodableBody",
    "compressed",
    "decoded",
    "inflated_here",
    "read_decoded",
]

#: What we accept: encodings this module inflates itself.
ACCEPT_ENCODING = "gzip, deflate"

#: Most bytes one inflate step produces.
INFLATE_STEP = 1 << 20


#: The content-encodings :class:`Decoder` reads ("" is none).
_INFLATED = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})


def _normal(content_encoding: str | None) -> str:
    return (content_encoding or "").strip().lower()


def inflated_here(content_encoding: str | None) -> bool:
    """Whether :class:`Decoder` reads a body with this ``Content-Encoding``."""
    return _normal(content_encoding) in _INFLATED


def compressed(content_encoding: str | None) -> bool:
    """Whether a body with this ``Content-Encoding`` is one :class:`Decoder` inflates."""
    return _normal(content_encoding) not in ("", "identity") and inflated_here(content_encoding)


class UndecodableBody(Exception):
    """A body that claims an encoding it does not have (or one we never asked for)."""


def _inflater(encoding: str, first: bytes) -> Any:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    # "deflate" is a zlib stream by the RFC, a raw one from some servers: its header tells.
    header = int.from_bytes(first[:2], "big")
    wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and header % 31 == 0
    return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


class Decoder:
    """Turns the raw pieces of one body into its decoded pieces, at most ``step`` bytes each."""

    __slots__ = ("_inflater", "encoding")

    def __init__(self, content_encoding: str | None) -> None:
        encoding = _normal(content_encoding)
        if encoding not in _INFLATED:
            raise UndecodableBody(f"content-encoding {encoding!r} was not asked for")
        self.encoding = "" if encoding == "identity" else encoding
        self._inflater: Any = None

    @property
    def identity(self) -> bool:
        return not self.encoding

    def feed(self, raw: bytes, step: int = INFLATE_STEP) -> Iterator[bytes]:
        """The decoded bytes of ``raw``, in pieces of at most ``step`` bytes."""
        if not self.encoding:
            yield raw
            return
        if self._inflater is None:
            self._inflater = _inflater(self.encoding, raw)
        pending = raw
        try:
            while pending:
                yield self._inflater.decompress(pending, step)
                pending = self._inflater.unconsumed_tail
        except zlib.error as exc:
            raise UndecodableBody(str(exc)) from exc

    def flush(self) -> bytes:
        if self._inflater is None:
            return b""
        try:
            return bytes(self._inflater.flush())
        except zlib.error as exc:
            raise UndecodableBody(str(exc)) from exc


async def read_decoded(
    raw: AsyncIterable[bytes],
    content_encoding: str | None,
    limit: int,
    too_large: Callable[[], Exception],
) -> bytes:
    """The decoded body, refused with ``too_large()`` as soon as it passes ``limit`` bytes —
    however small the compressed body that inflates past it. A garbled body raises
    :class:`UndecodableBody`."""
    decoder = Decoder(content_encoding)
    parts: list[bytes] = []
    size = 0
    async for chunk in raw:
        # Never inflate more than one byte past the cap in one step.
        for piece in decoder.feed(chunk, min(INFLATE_STEP, limit - size + 1)):
            size += len(piece)
            if size > limit:
                raise too_large()
            parts.append(piece)
    tail = decoder.flush()
    size += len(tail)
    if size > limit:
        raise too_large()
    parts.append(tail)
    return b"".join(parts)


async def decoded(raw: AsyncIterable[bytes], content_encoding: str | None) -> AsyncIterator[bytes]:
    """The decoded pieces of a streamed body (downloads), inflated in bounded steps."""
    decoder = Decoder(content_encoding)
    async for chunk in raw:
        for piece in decoder.feed(chunk):
            if piece:
                yield piece
    tail = decoder.flush()
    if tail:
        yield tail
