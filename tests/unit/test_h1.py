"""HTTP/1.1 framing of the native backend: every way a response can be framed, fed whole and
byte by byte, and every malformed answer refused."""

from __future__ import annotations

import pytest

from speedpix_async._core.h1 import (
    MAX_HEAD,
    BodyTooLarge,
    Headers,
    MalformedResponse,
    ResponseReader,
    head,
)

LIMIT = 1 << 20


def read(
    raw: bytes, *, method: str = "GET", limit: int = LIMIT, whole: bool = True
) -> ResponseReader:
    """A reader fed ``raw`` in one piece, or one byte at a time."""
    reader = ResponseReader(method, limit)
    if whole:
        reader.feed(raw)
    else:
        for i in range(len(raw)):
            reader.feed(raw[i : i + 1])
    return reader


@pytest.fixture(params=[True, False], ids=["whole", "byte-by-byte"])
def whole(request: pytest.FixtureRequest) -> bool:
    flag: bool = request.param
    return flag


def test_the_request_head_is_exactly_what_was_given() -> None:
    raw = head("POST", "/scc/x?a=1", "h.test:8080", {"x-ca-key": "k", "date": "D"}, 5)
    assert raw == (
        b"POST /scc/x?a=1 HTTP/1.1\r\nhost: h.test:8080\r\nx-ca-key: k\r\ndate: D\r\n"
        b"content-length: 5\r\n\r\n"
    )
    assert b"content-length" not in head("GET", "/", "h", {}, None)


def test_a_content_length_body(whole: bool) -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello", whole=whole)
    assert reader.done
    assert (reader.status, reader.body, reader.reusable) == (200, b"hello", True)
    assert reader.headers["x-a"] == reader.headers["X-A"] == "1"


def test_a_chunked_body_with_extensions_and_trailers(whole: bool) -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n"
    )
    reader = read(raw, whole=whole)
    assert reader.done
    assert (reader.body, reader.reusable) == (b"hello world", True)


def test_a_body_that_ends_with_the_connection(whole: bool) -> None:
    reader = read(b"HTTP/1.1 200 OK\r\n\r\npartial and then", whole=whole)
    assert not reader.done
    assert reader.end()
    assert (reader.body, reader.reusable) == (b"partial and then", False)


def test_a_cut_short_answer_is_not_complete() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    assert not reader.end()
    assert reader.received


def test_interim_answers_are_skipped(whole: bool) -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    reader = read(raw, whole=whole)
    assert (reader.status, reader.body) == (201, b"ok")


@pytest.mark.parametrize(
    ("raw", "method"),
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", "GET"),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", "GET"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD"),
    ],
)
def test_answers_without_a_body(raw: bytes, method: str) -> None:
    reader = read(raw, method=method)
    assert reader.done
    assert reader.body == b""


@pytest.mark.parametrize(
    ("raw", "reusable"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True),
        # A length beside chunked coding: read as chunked, and never trusted again.
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            False,
        ),
    ],
)
def test_whether_the_connection_may_carry_another_request(raw: bytes, reusable: bool) -> None:
    reader = read(raw)
    assert reader.done
    assert reader.reusable is reusable


def test_repeated_headers_read_joined_and_case_insensitively() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nVary: a\r\nvary: b\r\nContent-Length: 0\r\n\r\n")
    headers = reader.headers
    assert headers["VARY"] == "a, b"
    assert "Vary" in headers
    assert headers.get("missing") is None
    assert dict(headers) == {"vary": "a, b", "content-length": "0"}
    assert isinstance(headers, Headers)


def test_bare_line_feeds_are_read() -> None:
    reader = read(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
    assert (reader.status, reader.body) == (200, b"ok")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "status line"),
        (b"HTTP/1.1 abc OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "header line"),
        (b"HTTP/1.1 200 OK\r\n folded: value\r\n\r\n", "header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", "content-length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", "content-length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            "longer than its size",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", "after its answer"),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched protocols"),
    ],
)
def test_malformed_answers_are_refused(raw: bytes, fragment: str) -> None:
    with pytest.raises(MalformedResponse, match=fragment):
        read(raw)


def test_a_head_without_end_is_refused_past_its_cap() -> None:
    reader = ResponseReader("GET", LIMIT)
    reader.feed(b"HTTP/1.1 200 OK\r\n")
    for _ in range(MAX_HEAD // 1000 - 1):
        assert not reader.feed(b"X-Filler: " + b"a" * 990 + b"\r\n")
    with pytest.raises(MalformedResponse, match="head is longer"):
        reader.feed(b"X-Filler: " + b"a" * 2000 + b"\r\n")


def test_a_declared_length_past_the_cap_is_refused_before_the_body() -> None:
    reader = ResponseReader("GET", 10)
    with pytest.raises(BodyTooLarge):
        reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"4\r\nabcd\r\n" * 3,
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 11,
    ],
    ids=["chunked", "close-delimited"],
)
def test_an_undeclared_body_is_refused_as_it_passes_the_cap(raw: bytes) -> None:
    with pytest.raises(BodyTooLarge):
        read(raw, limit=10)
