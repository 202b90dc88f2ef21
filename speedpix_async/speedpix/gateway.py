"""API-gateway rejections in front of SpeedPix, as typed errors (docs/protocol.md, "Gateway").

The gateway refuses a request before it reaches SpeedPix with the reason in the
``X-Ca-Error-Message`` header. Each known message maps to an error class and a hint saying what
to change; a bad signature also shows the gateway's StringToSign next to ours.
"""

from __future__ import annotations

from typing import Any

from .._core.profile import CallContext
from .._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NonceReusedError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    SignatureError,
    TimestampError,
)

__all__ = ["STATUS_CLASSES", "gateway_error"]

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
