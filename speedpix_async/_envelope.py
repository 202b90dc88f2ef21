"""Reading SpeedPix answers: gateway rejections and the ``status``/``data`` envelope.

:class:`SpeedPixEnvelope` turns one :class:`httpx.Response` into the envelope's ``data`` or a
typed error (PROTOCOL A.2.4, A.3). It is one implementation of the transport's
``ResponseInterpreter`` protocol; the PAI service wraps its answers differently and plugs in its
own.

The error-code vocabularies of ``errCode`` / ``subErrCode`` are not published (PROTOCOL
Unknowns 5), so envelope errors are classified by the words their codes contain. The rules are
deliberately conservative: anything unrecognised is a plain :class:`APIError`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs
import httpx

from ._errors import (
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
from ._redact import redact_text, redact_url
from ._retry import parse_retry_after

__all__ = ["CallContext", "Reply", "SpeedPixEnvelope", "check_storage_response", "decode_json_body"]

ENVELOPE_OK = 10
ENVELOPE_FAILED = 20

_SIGNATURE_PREFIX = "Invalid Signature, Server StringToSign:"
_EXCERPT_CHARS = 160


@attrs.frozen(kw_only=True)
class CallContext:
    """What the interpreter needs to know about the request that produced a response."""

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


def _excerpt(response: httpx.Response) -> str:
    text = response.content[:_EXCERPT_CHARS].decode("utf-8", errors="replace")
    text = redact_text(re.sub(r"\s+", " ", text).strip())
    return text + ("…" if len(response.content) > _EXCERPT_CHARS else "")


def _is_json_content_type(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "").lower()
    return "json" in ctype


def decode_json_body(response: httpx.Response, call: CallContext) -> Any:
    """Parse a successful response's JSON or raise :class:`ResponseValidationError`.

    A body that claims to be JSON but does not parse is *transient* (truncated by a dropped
    connection or a broken proxy; retrying an idempotent call may help); a body that is not JSON
    at all (an HTML page) means the endpoint is wrong, which no retry fixes.
    """
    base = {
        "status_code": response.status_code,
        "method": call.method,
        "url": call.url,
        "request_id": response.headers.get("x-ca-request-id"),
    }
    if not response.content.strip():
        raise ResponseValidationError(
            "the server answered with an empty body instead of a JSON envelope; if this "
            "persists, check that the endpoint points at the SpeedPix API",
            transient=True,
            **base,
        )
    try:
        return json.loads(response.content)
    except ValueError as exc:
        looks_json = _is_json_content_type(response) or response.content.lstrip()[:1] in (
            b"{",
            b"[",
        )
        if looks_json:
            detail = (
                f"{exc.msg} at byte {exc.pos}"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)
            )
            raise ResponseValidationError(
                f"the response body is not valid JSON (truncated or garbled: {detail}); body "
                f"starts {_excerpt(response)!r}",
                transient=True,
                **base,
            ) from exc
        ctype = response.headers.get("content-type", "no content-type")
        raise ResponseValidationError(
            f"expected a JSON envelope but got {ctype}, starting {_excerpt(response)!r}; the "
            "endpoint (SPEEDPIX_ENDPOINT / endpoint=) probably points at a web page or a proxy, "
            "not the SpeedPix API",
            **base,
        ) from exc


# Gateway messages (PROTOCOL A.2.4 classic table) -> (error class, what to change, transient).
_GATEWAY_MESSAGES: tuple[tuple[str, type[APIError], str, bool], ...] = (
    (
        "Invalid AppKey",
        AuthenticationError,
        "the gateway does not know this app key; check app_key / SPEEDPIX_APP_KEY against the "
        "SpeedPix console (应用管理)",
        False,
    ),
    (
        "Timestamp Expired",
        TimestampError,
        "the request timestamp is more than 15 minutes away from the gateway's clock; "
        "synchronise this machine's clock (NTP)",
        False,
    ),
    (
        "Invalid Timestamp",
        TimestampError,
        "the gateway could not read X-Ca-Timestamp (milliseconds since the epoch expected); "
        "check the system clock",
        False,
    ),
    (
        "Nonce Used",
        NonceReusedError,
        "the gateway has already seen this request's X-Ca-Nonce; something replayed a signed "
        "request (a proxy retry, or resending captured headers) — send a freshly signed request",
        False,
    ),
    (
        "Invalid Content-MD5",
        AuthenticationError,
        "the body the gateway received does not match its Content-MD5; something between this "
        "client and the gateway (a proxy, a middleware) changed the body",
        False,
    ),
    (
        "Empty Signature",
        AuthenticationError,
        "the request carried no X-Ca-Signature; something stripped the x-ca-* headers",
        False,
    ),
    (
        "Unauthorized",
        PermissionDeniedError,
        "this app is not authorized to call the API; grant it access in the SpeedPix console",
        False,
    ),
    (
        "Throttled by",
        RateLimitError,
        "flow control rejected the request; lower the request rate or concurrency",
        True,
    ),
    (
        "Quota Exhausted",
        QuotaExceededError,
        "the account's quota is used up; top it up in the console",
        False,
    ),
    (
        "Quota Expired",
        QuotaExceededError,
        "the account's quota has expired; renew it in the console",
        False,
    ),
    (
        "User Arrears",
        QuotaExceededError,
        "the account is in arrears; settle the bill in the Alibaba Cloud console",
        False,
    ),
    (
        "API Not Found",
        NotFoundError,
        "the gateway has no API at this path; check the endpoint",
        False,
    ),
    ("Invalid Url", NotFoundError, "the gateway rejected the URL; check the endpoint", False),
    (
        "Invalid Domain",
        BadRequestError,
        "the gateway does not serve this host name; check the endpoint",
        False,
    ),
    ("Invalid HttpMethod", BadRequestError, "the gateway refused the HTTP method", False),
    (
        "Service Unavailable",
        ServerError,
        "the service is temporarily unavailable; try again later",
        True,
    ),
    ("Internal Error", ServerError, "the gateway failed internally; try again later", False),
    (
        "Failed To Invoke Backend Service",
        ServerError,
        "the gateway could not reach the SpeedPix backend; try again later",
        False,
    ),
)

_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: BadRequestError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}

#: Word stems in envelope error codes, most specific first. The vocabulary is unpublished, so
#: these follow Alibaba Cloud's usual naming ("Throttling.User", "InvalidParameter", …).
_CODE_RULES: tuple[tuple[tuple[str, ...], type[APIError], bool], ...] = (
    (("throttl", "toomanyrequests", "ratelimit", "flowcontrol"), RateLimitError, True),
    (("quota", "arrears", "insufficientbalance"), QuotaExceededError, False),
    (("notfound", "notexist", "nosuch"), NotFoundError, False),
    (("forbidden", "unauthorized", "nopermission", "accessdenied"), PermissionDeniedError, False),
    (
        ("internalerror", "systembusy", "serviceunavailable", "serverbusy", "timeout"),
        ServerError,
        True,
    ),
    (("invalid", "missing", "parameter", "illegal", "malformed"), BadRequestError, False),
)


def _classify_codes(err_code: str | None, sub_err_code: str | None) -> tuple[type[APIError], bool]:
    """Class and transience of an envelope error.

    ``errCode`` is the gateway-level verdict and decides when present: an unrecognised one
    (say ``TaskFailed``) is a plain, non-transient :class:`APIError` even if the backend's
    ``subErrCode`` reads ``InternalError`` — a failed task must not look like a busy server.
    ``subErrCode`` is consulted only when there is no ``errCode``.
    """
    code = err_code or sub_err_code
    if not code:
        return APIError, False
    squashed = re.sub(r"[^a-z]", "", code.lower())
    for stems, cls, transient in _CODE_RULES:
        if any(stem in squashed for stem in stems):
            return cls, transient
    return APIError, False


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


_STORAGE_HINTS = {
    403: "the storage refused the presigned URL: it has expired, or the request does not match "
    "what was signed (Content-Type); request a new URL (upload again, or re-run for fresh "
    "output URLs)",
    404: "the storage has no such object; output URLs expire — copy results soon after a run",
    400: "the storage refused the request as malformed",
}


def check_storage_response(response: httpx.Response, call: CallContext) -> None:
    """Raise a typed error unless a presigned PUT/GET to object storage succeeded.

    Storage answers are not SpeedPix envelopes: OSS-style services send an XML (sometimes JSON)
    body with ``Code`` and ``Message``, which we quote.
    """
    if response.is_success:
        return
    status = response.status_code
    text = response.content[:2000].decode("utf-8", errors="replace")
    code = re.search(r"<Code>([^<]{1,100})</Code>|\"[Cc]ode\"\s*:\s*\"([^\"]{1,100})\"", text)
    message = re.search(
        r"<Message>([^<]{1,300})</Message>|\"[Mm]essage\"\s*:\s*\"([^\"]{1,300})\"", text
    )
    storage_code = next((g for g in code.groups() if g), None) if code else None
    storage_message = next((g for g in message.groups() if g), None) if message else None
    cls = _STATUS_CLASSES.get(status, ServerError if status >= 500 else APIError)
    hint = _STORAGE_HINTS.get(status, f"the storage answered HTTP {status}")
    detail = f" ({storage_code}: {redact_text(storage_message or '')})" if storage_code else ""
    raise cls(
        hint + detail,
        status_code=status,
        method=call.method,
        url=call.url,
        request_id=response.headers.get("x-oss-request-id") or response.headers.get("x-request-id"),
        err_code=storage_code,
        err_message=redact_text(storage_message) if storage_message else None,
        retry_after=parse_retry_after(response.headers),
        transient=status in (429, 502, 503, 504),
    )


class SpeedPixEnvelope:
    """Interprets SpeedPix gateway responses (PROTOCOL A.2.4 and A.3)."""

    def unwrap(self, response: httpx.Response, call: CallContext) -> Reply:
        """Return the envelope's ``data`` or raise the typed error the response describes."""
        gateway_message = response.headers.get("x-ca-error-message")
        if gateway_message:
            raise self._gateway_error(response, call, gateway_message)
        if response.status_code >= 400:
            raise self._http_error(response, call)
        if response.status_code >= 300:
            raise ResponseValidationError(
                f"unexpected redirect (HTTP {response.status_code}) to "
                f"{redact_url(response.headers.get('location', ''))!r}; use the final URL "
                "as the endpoint",
                status_code=response.status_code,
                method=call.method,
                url=call.url,
            )
        payload = decode_json_body(response, call)
        if not isinstance(payload, dict):
            raise ResponseValidationError(
                f"expected a JSON object envelope, got {type(payload).__name__}",
                status_code=response.status_code,
                method=call.method,
                url=call.url,
                request_id=response.headers.get("x-ca-request-id"),
            )
        status = payload.get("status")
        failed = status == ENVELOPE_FAILED or (
            status != ENVELOPE_OK and (payload.get("errCode") or payload.get("subErrCode"))
        )
        if failed:
            raise self._envelope_error(response, call, payload)
        if "data" not in payload or not isinstance(payload["data"], dict):
            raise ResponseValidationError(
                "the envelope reports success but carries no data object",
                status_code=response.status_code,
                method=call.method,
                url=call.url,
                request_id=response.headers.get("x-ca-request-id"),
                status=status,
                api_invoke_id=_str_or_none(payload.get("apiInvokeId")),
            )
        return Reply(
            data=payload["data"],
            api_invoke_id=_str_or_none(payload.get("apiInvokeId")),
            request_id=response.headers.get("x-ca-request-id"),
        )

    # ------------------------------------------------------------------------------------

    @staticmethod
    def _common(response: httpx.Response, call: CallContext) -> dict[str, Any]:
        return {
            "status_code": response.status_code,
            "method": call.method,
            "url": call.url,
            "request_id": response.headers.get("x-ca-request-id"),
            "gateway_error_code": response.headers.get("x-ca-error-code"),
            "retry_after": parse_retry_after(response.headers),
        }

    @staticmethod
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

    @staticmethod
    def _try_json(response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            return None

    def _gateway_error(self, response: httpx.Response, call: CallContext, message: str) -> APIError:
        common = self._common(response, call)
        common.update(self._envelope_fields(self._try_json(response)))
        if message.startswith(_SIGNATURE_PREFIX):
            # Headers cannot carry newlines, so the gateway writes them as '#'.
            server_sts = message[len(_SIGNATURE_PREFIX) :].replace("#", "\n")
            return SignatureError(
                "the gateway computed a different signature: the app secret is probably wrong "
                "(check app_secret / SPEEDPIX_APP_SECRET), or something changed a signed header "
                "or the path on the way; compare the two strings below",
                gateway_message=_SIGNATURE_PREFIX.rstrip(":"),
                client_string_to_sign=call.string_to_sign,
                server_string_to_sign=server_sts,
                **common,
            )
        for prefix, cls, hint, transient in _GATEWAY_MESSAGES:
            if message.startswith(prefix):
                return cls(hint, gateway_message=message, transient=transient, **common)
        cls = _STATUS_CLASSES.get(response.status_code, ServerError)
        if response.status_code < 500 and cls is ServerError:
            cls = APIError
        return cls(
            f"the API gateway rejected the request: {message}",
            gateway_message=message,
            transient=response.status_code in (429, 502, 503, 504),
            **common,
        )

    def _http_error(self, response: httpx.Response, call: CallContext) -> APIError:
        common = self._common(response, call)
        payload = self._try_json(response)
        envelope = self._envelope_fields(payload)
        common.update(envelope)
        status = response.status_code
        cls = _STATUS_CLASSES.get(status, ServerError if status >= 500 else APIError)
        transient = status in (429, 502, 503, 504)
        if isinstance(payload, dict) and (envelope.get("err_code") or envelope.get("sub_err_code")):
            detail = envelope.get("sub_err_message") or envelope.get("err_message") or "error"
            return cls(
                f"the service answered HTTP {status}: {detail}", transient=transient, **common
            )
        if payload is None and response.content.strip():
            ctype = response.headers.get("content-type", "no content-type")
            return cls(
                f"HTTP {status} with a non-JSON body ({ctype}) starting {_excerpt(response)!r}; "
                "a proxy or load balancer answered instead of the SpeedPix API",
                transient=transient,
                **common,
            )
        return cls(f"the service answered HTTP {status}", transient=transient, **common)

    def _envelope_error(
        self, response: httpx.Response, call: CallContext, payload: dict[str, Any]
    ) -> APIError:
        fields = self._envelope_fields(payload)
        cls, transient = _classify_codes(fields.get("err_code"), fields.get("sub_err_code"))
        detail = fields.get("sub_err_message") or fields.get("err_message") or "no message"
        return cls(
            f"the service reported an error: {detail}",
            transient=transient,
            **self._common(response, call),
            **fields,
        )
