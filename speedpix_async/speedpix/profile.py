"""SpeedPix as a profile for the core: API-gateway digest signing, and reading answers —
gateway rejections (the ``X-Ca-Error-Message`` header) and the ``status``/``data`` envelope
with its error codes (docs/protocol.md, "Gateway" and "SpeedPix envelope").

The error-code vocabularies of ``errCode`` / ``subErrCode`` are not published, so envelope
errors are classified by the words their codes contain. The rules are deliberately
conservative: anything unrecognised is a plain :class:`APIError`.
"""

from __future__ import annotations

import re
from typing import Any

from .._core.answers import CallContext, Reply, decode_json_body, excerpt, try_json
from .._core.http import Response
from .._core.retry import parse_retry_after
from .._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NonceReusedError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    SignatureError,
    TimestampError,
)
from .._redact import redact_url
from .._signing import GatewaySigner, QueryParams, Signature

__all__ = ["ENVELOPE_FAILED", "ENVELOPE_OK", "SpeedPixProfile", "read_envelope"]

SIGNATURE_PREFIX = "Invalid Signature, Server StringToSign:"

#: Gateway messages (the classic error table) → (error class, what to change).
MESSAGES: tuple[tuple[str, type[APIError], str], ...] = (
    (
        "Invalid AppKey",
        AuthenticationError,
        "the gateway does not know this app key; check app_key / SPEEDPIX_APP_KEY against the "
        "SpeedPix console (应用管理)",
    ),
    (
        "Timestamp Expired",
        TimestampError,
        "the request timestamp is more than 15 minutes away from the gateway's clock; "
        "synchronise this machine's clock (NTP)",
    ),
    (
        "Invalid Timestamp",
        TimestampError,
        "the gateway could not read X-Ca-Timestamp (milliseconds since the epoch expected); "
        "check the system clock",
    ),
    (
        "Nonce Used",
        NonceReusedError,
        "the gateway has already seen this request's X-Ca-Nonce; something replayed a signed "
        "request (a proxy retry, or resending captured headers) — send a freshly signed request",
    ),
    (
        "Invalid Content-MD5",
        AuthenticationError,
        "the body the gateway received does not match its Content-MD5; something between this "
        "client and the gateway (a proxy, a middleware) changed the body",
    ),
    (
        "Empty Signature",
        AuthenticationError,
        "the request carried no X-Ca-Signature; something stripped the x-ca-* headers",
    ),
    (
        "Unauthorized",
        PermissionDeniedError,
        "this app is not authorized to call the API; grant it access in the SpeedPix console",
    ),
    (
        "Throttled by",
        RateLimitError,
        "flow control rejected the request; lower the request rate or concurrency",
    ),
    (
        "Quota Exhausted",
        QuotaExceededError,
        "the account's quota is used up; top it up in the console",
    ),
    (
        "Quota Expired",
        QuotaExceededError,
        "the account's quota has expired; renew it in the console",
    ),
    (
        "User Arrears",
        QuotaExceededError,
        "the account is in arrears; settle the bill in the Alibaba Cloud console",
    ),
    ("API Not Found", NotFoundError, "the gateway has no API at this path; check the endpoint"),
    ("Invalid Url", NotFoundError, "the gateway rejected the URL; check the endpoint"),
    (
        "Invalid Domain",
        BadRequestError,
        "the gateway does not serve this host name; check the endpoint",
    ),
    ("Invalid HttpMethod", BadRequestError, "the gateway refused the HTTP method"),
    ("Service Unavailable", ServerError, "the service is temporarily unavailable; try again later"),
    ("Internal Error", ServerError, "the gateway failed internally; try again later"),
    (
        "Failed To Invoke Backend Service",
        ServerError,
        "the gateway could not reach the SpeedPix backend; try again later",
    ),
)

#: Error class by HTTP status when nothing more specific is known.
STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: BadRequestError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}


def gateway_error(
    message: str, status_code: int, call: CallContext, fields: dict[str, Any]
) -> APIError:
    """The error for a gateway rejection carrying ``X-Ca-Error-Message: message``.

    ``fields`` are the error's common keyword arguments (status, ids, envelope codes if the
    body had any).
    """
    if message.startswith(SIGNATURE_PREFIX):
        # Headers cannot carry newlines, so the gateway writes them as '#'.
        server_sts = message[len(SIGNATURE_PREFIX) :].replace("#", "\n")
        return SignatureError(
            "the gateway computed a different signature: the app secret is probably wrong "
            "(check app_secret / SPEEDPIX_APP_SECRET), or something changed a signed header "
            "or the path on the way; compare the two strings below",
            gateway_message=SIGNATURE_PREFIX.rstrip(":"),
            client_string_to_sign=call.string_to_sign,
            server_string_to_sign=server_sts,
            **fields,
        )
    for prefix, cls, hint in MESSAGES:
        if message.startswith(prefix):
            return cls(hint, gateway_message=message, **fields)
    cls = STATUS_CLASSES.get(status_code, ServerError if status_code >= 500 else APIError)
    return cls(
        f"the API gateway rejected the request: {message}", gateway_message=message, **fields
    )


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
    numeric = isinstance(status, int) and not isinstance(status, bool)
    coded = payload.get("errCode") or payload.get("subErrCode")
    if numeric and (status == ENVELOPE_FAILED or (status != ENVELOPE_OK and coded)):
        raise _envelope_error(response, call, payload)
    if not numeric or status != ENVELOPE_OK:
        raise ResponseValidationError(
            f"the envelope's status is {status!r}, not the number {ENVELOPE_OK} (success) or "
            f"{ENVELOPE_FAILED} (failure) @ $.status",
            status_code=status_code,
            method=call.method,
            url=call.url,
            request_id=request_id,
            api_invoke_id=_str_or_none(payload.get("apiInvokeId")),
        )
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


class SpeedPixProfile:
    """Signs with an app key / secret pair; reads the ``status``/``data`` envelope."""

    name = "SpeedPix"
    #: API answers are small JSON envelopes (outputs are URLs, not inline files).
    max_body = 8 << 20

    def __init__(self, signer: GatewaySigner) -> None:
        self.signer = signer

    def __repr__(self) -> str:
        return f"SpeedPixProfile(app_key={self.signer.app_key!r})"

    def sign(
        self, *, method: str, path: str, body: bytes | None, params: QueryParams | None, now: float
    ) -> Signature:
        return self.signer.sign(method=method, path=path, body=body, params=params, now=now)

    def read(self, response: Response, call: CallContext) -> Reply:
        return read_envelope(response, call)
