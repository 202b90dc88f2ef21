"""HTTP/1.1 framing for the native backend: the bytes of a request's head, and an incremental
reader of one response.

Only what a JSON API exchange needs: bodies framed by ``Content-Length``, by chunked transfer
coding, or by the connection's end; interim ``1xx`` answers skipped; no upgrades. Everything is
bounded — a head may be at most :data:`MAX_HEAD` bytes and a body at most the caller's cap —
so a hostile server costs memory the caller chose, and a malformed answer is a
:class:`MalformedResponse`, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["MAX_HEAD", "BodyTooLarge", "Headers", "MalformedResponse", "ResponseReader", "head"]

#: The most bytes a response's status line and headers may take.
MAX_HEAD = 64 * 1024
#: The most bytes a chunk-size line (with extensions) or the trailer section may take.
_MAX_LINE = 8 * 1024


class MalformedResponse(Exception):
    """The server's bytes are not an HTTP/1.1 response."""


class BodyTooLarge(Exception):
    """The response body is longer than the reader's cap."""


def head(
    method: str, target: str, host: str, headers: Mapping[str, str], length: int | None
) -> bytes:
    """A request's head: request line, ``host``, the caller's headers as given, and
    ``content-length`` when there is a body (``length`` not None). Values are the caller's to
    check (visible ASCII); names come from the SDK."""
    fields = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
    framing = "" if length is None else f"content-length: {length}\r\n"
    return f"{method} {target} HTTP/1.1\r\nhost: {host}\r\n{fields}{framing}\r\n".encode("ascii")


class Headers(Mapping[str, str]):
    """A response's headers, looked up case-insensitively; a repeated header reads as its
    values joined by ``", "`` (as httpx shows it)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values  # lower-case names

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        # Mapping.get goes through __getitem__ and a KeyError for every absent header; the
        # core asks with lower-case names, so one dict lookup answers it.
        value = self._values.get(name)
        if value is None and not name.islower():
            value = self._values.get(name.lower())
        return default if value is None else value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({self._values!r})"


def _parse_head(raw: bytes) -> tuple[int, bool, Headers]:
    """Status, HTTP/1.0-or-older, and headers of a response head (without its blank line)."""
    text = raw.decode("latin-1")  # any byte; header values are ASCII in practice
    crlf = text.count("\r\n") == text.count("\n")
    lines = text.split("\r\n") if crlf else _bare_lines(text)
    status_line = lines[0]
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise MalformedResponse(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    values: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        # No name, whitespace before the colon, or a folded (continued) line.
        if not colon or not name or name[-1] in " \t" or name[0] in " \t":
            raise MalformedResponse(f"not a header line: {line[:80]!r}")
        name = name.lower()
        value = value.strip(" \t")
        values[name] = f"{values[name]}, {value}" if name in values else value
    return int(code), version == "HTTP/1.0", Headers(values)


def _bare_lines(text: str) -> list[str]:
    """Lines ended by a bare line feed, which some servers send (RFC 9112 lets us read them)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _content_length(headers: Headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    # Repeated identical values are allowed (RFC 9110, 8.6); anything else is not a length.
    values = {value.strip() for value in raw.split(",")}
    if len(values) != 1 or not (value := values.pop()).isdigit():
        raise MalformedResponse(f"bad content-length: {raw[:80]!r}")
    return int(value)


class ResponseReader:
    """Reads one response from the pieces a connection receives.

    :meth:`feed` each piece; it returns True once the response is complete (any bytes past it
    are an error: the server may not answer what was not asked). :meth:`end` says the
    connection closed. Then ``status``, ``headers``, ``body`` and ``reusable`` are set.
    """

    def __init__(self, method: str, limit: int) -> None:
        self.limit = limit
        self._no_body = method == "HEAD"
        self._buffer = bytearray()
        self._parts: list[bytes] = []
        self._size = 0
        self._state = "head"
        self._remaining = 0  # of a Content-Length body or the current chunk
        self._close_delimited = False
        self.received = False  # any byte at all
        self.status = 0
        self.headers = Headers({})
        self.body = b""
        self.reusable = False

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> bool:
        if data:
            self.received = True
        if self._state == "done":
            if data:
                raise MalformedResponse("the server sent bytes after its answer")
            return True
        self._buffer += data
        while self._state != "done":
            before = self._state, len(self._buffer)
            self._step()
            if (self._state, len(self._buffer)) == before:
                break
        return self._state == "done"

    def end(self) -> bool:
        """The connection ended: True when that completes the response (a body framed by the
        connection's end); otherwise the response is cut short."""
        if self._state == "body" and self._close_delimited:
            self._finish(reusable=False)
            return True
        return self._state == "done"

    def _step(self) -> None:
        if self._state == "head":
            self._read_head()
        elif self._state == "body":
            self._read_body()
        elif self._state == "chunk-size":
            self._read_chunk_size()
        elif self._state == "chunk":
            self._read_chunk()
        elif self._state == "chunk-end":
            self._read_chunk_end()
        elif self._state == "trailer":
            self._read_trailer()

    def _take_line(self, most: int, what: str) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > most:
                raise MalformedResponse(f"the {what} is longer than {most:,} bytes")
            return None
        line = bytes(self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: end + 1]
        return line

    def _read_head(self) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        skip = 4
        if end < 0:
            end, skip = self._buffer.find(b"\n\n"), 2
        if end < 0 or end > MAX_HEAD:
            if len(self._buffer) > MAX_HEAD:
                raise MalformedResponse(f"the response head is longer than {MAX_HEAD:,} bytes")
            return
        raw = bytes(self._buffer[:end])
        del self._buffer[: end + skip]
        status, old, headers = _parse_head(raw)
        if 100 <= status < 200:
            if status == 101:
                raise MalformedResponse("the server switched protocols, which was not asked")
            return  # an interim answer; the real one follows
        self.status, self.headers = status, headers
        connection = headers.get("connection", "").lower()
        self.reusable = "keep-alive" in connection if old else "close" not in connection
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = _content_length(headers)
        if self._no_body or status in (204, 304):
            self._finish(reusable=self.reusable)
        elif chunked:
            # A length beside chunked coding is a smuggling hint: read, then never reuse.
            self.reusable = self.reusable and length is None
            self._state = "chunk-size"
        elif length is not None:
            if length > self.limit:
                raise BodyTooLarge
            self._remaining = length
            self._state = "body"
            if length == 0:
                self._finish(reusable=self.reusable)
        else:
            self._close_delimited = True
            self._state = "body"

    def _keep(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self.limit:
            raise BodyTooLarge
        self._parts.append(piece)

    def _take_counted(self) -> bool:
        """Keep what the buffer holds of the ``_remaining`` bytes still due (a Content-Length
        body or the current chunk); whether they are all in."""
        piece = bytes(self._buffer[: self._remaining])
        del self._buffer[: len(piece)]
        self._keep(piece)
        self._remaining -= len(piece)
        return self._remaining == 0

    def _read_body(self) -> None:
        if not self._buffer:
            return
        if self._close_delimited:
            self._keep(bytes(self._buffer))
            self._buffer.clear()
        elif self._take_counted():
            self._finish(reusable=self.reusable)

    def _read_chunk_size(self) -> None:
        line = self._take_line(_MAX_LINE, "chunk-size line")
        if line is None:
            return
        size = line.split(b";", 1)[0].strip()
        try:
            self._remaining = int(size, 16)
        except ValueError:
            raise MalformedResponse(f"bad chunk size: {size[:20]!r}") from None
        if self._remaining < 0 or not size.isalnum():
            raise MalformedResponse(f"bad chunk size: {size[:20]!r}")
        self._state = "chunk" if self._remaining else "trailer"

    def _read_chunk(self) -> None:
        if self._buffer and self._take_counted():
            self._state = "chunk-end"

    def _read_chunk_end(self) -> None:
        line = self._take_line(2, "end of a chunk")
        if line is None:
            return
        if line:
            raise MalformedResponse("a chunk is longer than its size")
        self._state = "chunk-size"

    def _read_trailer(self) -> None:
        line = self._take_line(_MAX_LINE, "trailer section")
        if line == b"":
            self._finish(reusable=self.reusable)

    def _finish(self, *, reusable: bool) -> None:
        self.body = b"".join(self._parts)
        self._parts = []
        self.reusable = reusable
        self._state = "done"
        if self._buffer:
            raise MalformedResponse("the server sent bytes after its answer")
