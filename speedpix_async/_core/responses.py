"""Reading answers, service-neutral: JSON bodies with clear errors, and short safe excerpts."""

from __future__ import annotations

import json
import re
from typing import Any

from .._errors import ResponseValidationError
from .backends import Response
from .profile import CallContext
from .redact import redact_text

__all__ = ["decode_json_body", "excerpt", "try_json"]

_EXCERPT_CHARS = 160


def excerpt(content: bytes) -> str:
    """The start of a body as one line, signed-URL queries hidden."""
    text = content[:_EXCERPT_CHARS].decode("utf-8", errors="replace")
    text = redact_text(re.sub(r"\s+", " ", text).strip())
    return text + ("…" if len(content) > _EXCERPT_CHARS else "")


def try_json(content: bytes) -> Any:
    """The parsed body, or None when it is not JSON (error bodies are read best-effort)."""
    try:
        return json.loads(content)
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
        return json.loads(content)
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
