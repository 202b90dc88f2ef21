"""Reading answers: the shapes a service profile works with (:class:`CallContext`, the
successful :class:`Reply`, the :class:`ServiceProfile` protocol itself) and JSON read under the
client's limits — never a ``RecursionError``, never a secret in an excerpt.

The request pipeline (:mod:`.transport`) hands each response to its profile's ``read``; the
profiles read with this module. Nothing here calls back into the pipeline.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .._errors import ResponseValidationError
from .._redact import redact_text
from .._signing import QueryParams, Signature

if TYPE_CHECKING:
    # Annotations only: the CLI parses its inputs files with load_json without the HTTP stack.
    from .http import Response

__all__ = [
    "MAX_JSON_DEPTH",
    "CallContext",
    "Reply",
    "ServiceProfile",
    "TooDeep",
    "decode_json_body",
    "excerpt",
    "load_json",
    "try_json",
]


@attrs.frozen(kw_only=True)
class CallContext:
    """What a response reader needs to know about the request that produced a response."""

    method: str
    url: str
    """Scheme, host and path only: never a query string (signed URLs carry secrets there)."""
    string_to_sign: str | None = None


@attrs.frozen(kw_only=True)
class Reply:
    """A successful answer: the payload plus the identifiers worth quoting to support."""

    data: Any
    api_invoke_id: str | None = None
    request_id: str | None = None


class ServiceProfile(Protocol):
    """A service as the request pipeline sees it (SpeedPix, AI Portrait)."""

    name: str
    """Shown in messages: "the SpeedPix API"."""
    max_body: int
    """Most bytes of one answer the client reads (decoded); larger answers are refused."""

    def sign(
        self, *, method: str, path: str, body: bytes | None, params: QueryParams | None, now: float
    ) -> Signature:
        """Headers for one attempt (signed afresh every time) and the string that was signed."""
        ...

    def read(self, response: Response, call: CallContext) -> Reply:
        """The payload of a successful answer, or raise the typed error the answer describes."""
        ...


_EXCERPT_CHARS = 160


def excerpt(content: bytes) -> str:
    """The start of a body as one line, signed-URL queries hidden."""
    text = content[:_EXCERPT_CHARS].decode("utf-8", errors="replace")
    text = redact_text(re.sub(r"\s+", " ", text).strip())
    return text + ("…" if len(content) > _EXCERPT_CHARS else "")


#: Deepest nesting of arrays and objects read in an answer (the APIs' answers nest a few
#: levels; a parser's recursion limit must never be what stops a hostile one).
MAX_JSON_DEPTH = 64


class TooDeep(ValueError):
    """A JSON document nested deeper than :data:`MAX_JSON_DEPTH`."""


def _depth_ok(value: Any) -> bool:
    # Iterative, so that checking a deep document cannot itself overflow the stack.
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= MAX_JSON_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def load_json(content: bytes) -> Any:
    """``json.loads``, refusing documents nested deeper than :data:`MAX_JSON_DEPTH` with
    :class:`TooDeep` (never a ``RecursionError``)."""
    try:
        value = json.loads(content)
    except RecursionError:
        raise TooDeep(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    # Every poll passes here: a document with fewer openers than the limit cannot be too deep,
    # and counting bytes costs far less than walking the parsed tree.
    openers = content.count(b"[") + content.count(b"{")
    if openers >= MAX_JSON_DEPTH and not _depth_ok(value):
        raise TooDeep(f"nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def try_json(content: bytes) -> Any:
    """The parsed body, or None when it is not JSON (error bodies are read best-effort)."""
    try:
        return load_json(content)
    except ValueError:
        return None


def decode_json_body(
    response: Response,
    call: CallContext,
    *,
    service: str,
    endpoint_setting: str,
    request_id: str | None,
) -> Any:
    """Parse a successful response's JSON or raise :class:`ResponseValidationError`.

    A body that claims to be JSON but does not parse is *incomplete* (truncated by a dropped
    connection or a broken proxy; another attempt may get it whole); a body that is not JSON at
    all (an HTML page) means the endpoint is wrong, which no retry fixes.
    """
    base: dict[str, Any] = {
        "status_code": response.status_code,
        "method": call.method,
        "url": call.url,
        "request_id": request_id,
    }
    content = response.content
    if not content.strip():
        raise ResponseValidationError(
            "the server answered with an empty body instead of a JSON envelope; if this "
            f"persists, check that the endpoint points at the {service} API",
            incomplete=True,
            **base,
        )
    try:
        return load_json(content)
    except TooDeep as exc:
        raise ResponseValidationError(
            f"the response JSON is {exc}; the endpoint is not behaving like the {service} API",
            over_limit=True,
            **base,
        ) from None
    except ValueError as exc:
        ctype = response.headers.get("content-type") or ""
        looks_json = "json" in ctype.lower() or content.lstrip()[:1] in (b"{", b"[")
        if looks_json:
            detail = (
                f"{exc.msg} at byte {exc.pos}"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)
            )
            raise ResponseValidationError(
                f"the response body is not valid JSON (truncated or garbled: {detail}); body "
                f"starts {excerpt(content)!r}",
                incomplete=True,
                **base,
            ) from exc
        raise ResponseValidationError(
            f"expected a JSON envelope but got {ctype or 'no content-type'}, starting "
            f"{excerpt(content)!r}; the endpoint ({endpoint_setting}) probably points at a web "
            f"page or a proxy, not the {service} API",
            **base,
        ) from exc
