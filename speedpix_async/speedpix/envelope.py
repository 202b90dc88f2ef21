"""Reading SpeedPix answers: the ``status``/``data`` envelope and its error codes
(docs/protocol.md, "SpeedPix envelope").

The error-code vocabularies of ``errCode`` / ``subErrCode`` are not published, so envelope
errors are classified by the words their codes contain. The rules are deliberately
conservative: anything unrecognised is a plain :class:`APIError`.
"""

from __future__ import annotations

import re
from typing import Any

from .._core.backends import Response
from .._core.profile import CallContext, Reply
from .._core.redact import redact_url
from .._core.responses import decode_json_body, excerpt, try_json
from .._core.retry import parse_retry_after
from .._errors import (
    APIError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from .gateway import STATUS_CLASSES, gateway_error

__all__ = ["ENVELOPE_FAILED", "ENVELOPE_OK", "read_envelope"]

ENVELOPE_OK = 10
ENVELOPE_FAILED = 20
ENDPOINT_SETTING = "SPEEDPIX_ENDPOINT / endpoint="

#: Word stems in envelope error codes, most specific first. The vocabulary is unpublished, so
#: these follow Alibaba Cloud's usual naming ("Throttling.User", "InvalidParameter", …).
CODE_RULES: tuple[tuple[tuple[str, ...], type[APIError]], ...] = (
    (("throttl", "toomanyrequests", "ratelimit", "flowcontrol"), RateLimitError),
    (("quota", "arrears", "insufficientbalance"), QuotaExceededError),
    (("notfound", "notexist", "nosuch"), NotFoundError),
    (("forbidden", "unauthorized", "nopermission", "accessdenied"), PermissionDeniedError),
    (("internalerror", "systembusy", "serviceunavailable", "serverbusy", "timeout"), ServerError),
    (("invalid", "missing", "parameter", "illegal", "malformed"), BadRequestError),
)


def classify_codes(err_code: str | None, sub_err_code: str | None) -> type[APIError]:
    """The class of an envelope error.

    ``errCode`` is the gateway-level verdict and decides when present: an unrecognised one
    (say ``TaskFailed``) is a plain :class:`APIError` even if the backend's ``subErrCode``
    reads ``InternalError`` — a failed task must not look like a busy server. ``subErrCode`` is
    consulted only when there is no ``errCode``.
    """
    code = err_code or sub_err_code
    if not code:
        return APIError
    squashed = re.sub(r"[^a-z]", "", code.lower())
    for stems, cls in CODE_RULES:
        if any(stem in squashed for stem in stems):
            return cls
    return APIError


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _envelope_fields(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        return {}
    return {
        "status": payload.get("status"),
        "err_code": _str_or_none(payload.get("errCode")),
        "err_message": _str_or_none(payload.get("errMessage")),
        "sub_err_code": _str_or_none(payload.get("subErrCode")),
        "sub_err_message": _str_or_none(payload.get("subErrMessage")),
        "api_invoke_id": _str_or_none(payload.get("apiInvokeId")),
    }


def _common(response: Response, call: CallContext) -> dict[str, Any]:
    headers = response.headers
    return {
        "status_code": response.status_code,
        "method": call.method,
        "url": call.url,
        "request_id": headers.get("x-ca-request-id"),
        "gateway_error_code": headers.get("x-ca-error-code"),
        "retry_after": parse_retry_after(headers),
    }


def _http_error(response: Response, call: CallContext) -> APIError:
    fields = _common(response, call)
    payload = try_json(response.content)
    envelope = _envelope_fields(payload)
    fields.update(envelope)
    status = response.status_code
    cls = STATUS_CLASSES.get(status, ServerError if status >= 500 else APIError)
    if envelope.get("err_code") or envelope.get("sub_err_code"):
        detail = envelope.get("sub_err_message") or envelope.get("err_message") or "error"
        return cls(f"the service answered HTTP {status}: {detail}", **fields)
    if payload is None and response.content.strip():
        ctype = response.headers.get("content-type") or "no content-type"
        return cls(
            f"HTTP {status} with a non-JSON body ({ctype}) starting {excerpt(response.content)!r}; "
            "a proxy or load balancer answered instead of the SpeedPix API",
            **fields,
        )
    return cls(f"the service answered HTTP {status}", **fields)


def _envelope_error(response: Response, call: CallContext, payload: dict[str, Any]) -> APIError:
    fields = _envelope_fields(payload)
    cls = classify_codes(fields.get("err_code"), fields.get("sub_err_code"))
    detail = fields.get("sub_err_message") or fields.get("err_message") or "no message"
    return cls(f"the service reported an error: {detail}", **_common(response, call), **fields)


def read_envelope(response: Response, call: CallContext) -> Reply:
    """The envelope's ``data``, or the typed error the response describes."""
    headers = response.headers
    message = headers.get("x-ca-error-message")
    if message:
        fields = _common(response, call)
        fields.update(_envelope_fields(try_json(response.content)))
        raise gateway_error(message, response.status_code, call, fields)
    status_code = response.status_code
    if status_code >= 400:
        raise _http_error(response, call)
    request_id = headers.get("x-ca-request-id")
    if status_code >= 300:
        raise ResponseValidationError(
            f"unexpected redirect (HTTP {status_code}) to "
            f"{redact_url(headers.get('location') or '')!r}; use the final URL as the endpoint",
            status_code=status_code,
            method=call.method,
            url=call.url,
            request_id=request_id,
        )
    payload = decode_json_body(
        response, call, service="SpeedPix", endpoint_setting=ENDPOINT_SETTING, request_id=request_id
    )
    if not isinstance(payload, dict):
        raise ResponseValidationError(
            f"expected a JSON object envelope, got {type(payload).__name__}",
            status_code=status_code,
            method=call.method,
            url=call.url,
            request_id=request_id,
        )
    status = payload.get("status")
    failed = status == ENVELOPE_FAILED or (
        status != ENVELOPE_OK and (payload.get("errCode") or payload.get("subErrCode"))
    )
    if failed:
        raise _envelope_error(response, call, payload)
    data = payload.get("data")
    invoke_id = _str_or_none(payload.get("apiInvokeId"))
    if not isinstance(data, dict):
        raise ResponseValidationError(
            "the envelope reports success but carries no data object",
            status_code=status_code,
            method=call.method,
            url=call.url,
            request_id=request_id,
            status=status,
            api_invoke_id=invoke_id,
        )
    return Reply(data=data, api_invoke_id=invoke_id, request_id=request_id)
