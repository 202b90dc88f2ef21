"""What a service plugs into the core: how to sign a request and how to read an answer."""

from __future__ import annotations

from typing import Any, Protocol

import attrs

from .._signing import QueryParams, Signature
from .backends import Response

__all__ = ["CallContext", "Reply", "ServiceProfile"]


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

    def sign(
        self, *, method: str, path: str, body: bytes | None, params: QueryParams | None, now: float
    ) -> Signature:
        """Headers for one attempt (signed afresh every time) and the string that was signed."""
        ...

    def read(self, response: Response, call: CallContext) -> Reply:
        """The payload of a successful answer, or raise the typed error the answer describes."""
        ...
