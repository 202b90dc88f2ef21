"""Facts about an incoming request that several routes need."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from starlette.requests import Request

__all__ = [
    "MAX_API_BODY",
    "MAX_JSON_DEPTH",
    "TooDeep",
    "is_loopback",
    "load_body",
    "public_url",
    "read_body",
]

#: The largest API request body the emulator reads (both services; uploads go to the object
#: store, which has its own limit). A submit inlines files of 1 MiB at most as base64, so real
#: bodies stay far below this; anything larger is refused with HTTP 413 before it is read.
MAX_API_BODY = 8 << 20
#: The deepest nesting of a request body the emulator accepts (a workflow's inputs are a few
#: levels deep); deeper is an invalid parameter, never a RecursionError.
MAX_JSON_DEPTH = 100


async def read_body(request: Request, limit: int = MAX_API_BODY) -> bytes | None:
    """The request body, or None as soon as it is known to exceed ``limit`` bytes — from its
    ``Content-Length``, before reading anything, or while it streams in."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


class TooDeep(ValueError):
    """A request body nested deeper than :data:`MAX_JSON_DEPTH`."""


def _depth_ok(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        if children and depth >= MAX_JSON_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def load_body(body: bytes) -> Any:
    """A JSON request body; :class:`TooDeep` (a ``ValueError``) for one nested too deep, a
    ``ValueError`` for one that is not JSON."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise TooDeep(f"the body is nested more than {MAX_JSON_DEPTH} levels deep") from None
    if (body.count(b"[") + body.count(b"{")) > MAX_JSON_DEPTH and not _depth_ok(value):
        raise TooDeep(f"the body is nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def public_url(request: Request) -> str:
    """The base URL as the client used it; output URLs are built on it."""
    return str(request.base_url).rstrip("/")


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
