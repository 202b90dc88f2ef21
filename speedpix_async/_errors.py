"""The error tree (docs/architecture.md, "Errors").

One root, :class:`SpeedPixError`; subclasses by *cause*, so callers can catch what they can act
on. Every :class:`APIError` carries what a support ticket needs: HTTP status, the gateway's
``X-Ca-Error-Message`` / ``X-Ca-Error-Code``, the envelope codes, ``apiInvokeId`` and the request
id. No message ever contains an app secret, a token, a signature or a signed URL's query string.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "InputError",
    "JournalDamagedError",
    "LocalFileAsTextWarning",
    "NonceReusedError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "SignatureError",
    "SpeedPixError",
    "SpeedPixException",
    "TimestampError",
    "UnsupportedOperationError",
]


class SpeedPixError(Exception):
    """Root of every error this package raises on purpose."""

    status_code: int | None = None
    """HTTP status of the response that caused the error, when there was one.

    Present on the root (``None`` by default) because the official Python guide reads
    ``e.status_code`` on its root exception."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (ProcessPoolExecutor, multiprocessing). Exception's
        # default calls ``cls(*args)``, which keyword-only fields break: rebuild without
        # calling __init__, then restore every field.
        return (_rebuild, (type(self), self.args), dict(self.__dict__))


def _rebuild(cls: type[SpeedPixError], args: tuple[Any, ...]) -> SpeedPixError:
    error = cls.__new__(cls)
    error.args = args
    return error


class ConfigurationError(SpeedPixError):
    """The client cannot be built or used as configured (credentials, endpoint, options)."""


class ClientClosedError(ConfigurationError):
    """The client was closed — before this call, or (from another thread or task) while it
    ran. Create a new client, or keep using this one inside its ``with`` block."""


class InputError(SpeedPixError, ValueError):
    """An argument or workflow input is unusable. Raised before anything is sent."""


class JournalDamagedError(InputError):
    """A batch journal holds a line that is not what this SDK wrote there (edited by hand, or
    damaged on disk). Raised when the journal is opened, before anything is sent or written;
    ``path`` and ``line`` (1-based) say where."""

    def __init__(self, message: str, *, path: str, line: int) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class LocalFileAsTextWarning(UserWarning):
    """A workflow input is a plain string such as ``"in.jpg"`` that names a local media file:
    it is sent as that text, not uploaded. Pass ``Path("in.jpg")`` (or write ``"./in.jpg"``)
    to upload the file; build the client with ``upload_local_paths=False`` when strings are
    always text."""


class UnsupportedOperationError(SpeedPixError, NotImplementedError):
    """The service has no endpoint for this operation, so the SDK refuses instead of faking it."""


class APIConnectionError(SpeedPixError):
    """The request did not produce an HTTP response (DNS, refused, reset, TLS, timeout).

    ``request_sent`` says whether the request may have reached the server: ``False`` only when
    the failure proves it did not (connect error, pool timeout). A non-idempotent call is retried
    only in that case.
    """

    def __init__(
        self, message: str, *, method: str, url: str, request_sent: bool, attempts: int = 1
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.request_sent = request_sent
        self.attempts = attempts


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, write, read or waiting for a pooled connection)."""


class APIError(SpeedPixError):
    """The service (or the API gateway in front of it) answered with an error.

    Every service's errors carry the HTTP facts (``status_code``, ``method``, ``url``), the
    request id and the retry facts (``retry_after``). SpeedPix's API gateway adds its own —
    ``gateway_message``, ``gateway_error_code``, the envelope's ``status``, ``err_code``,
    ``err_message``, ``sub_err_code``, ``sub_err_message``, ``api_invoke_id`` — which are
    ``None`` on errors of other services (AI Portrait has ``code`` and ``server_message``).
    """

    #: SpeedPix API-gateway and envelope fields (set only on SpeedPix errors that have them).
    GATEWAY_FIELDS = (
        "gateway_message",
        "gateway_error_code",
        "status",
        "err_code",
        "err_message",
        "sub_err_code",
        "sub_err_message",
        "api_invoke_id",
    )
    gateway_message: str | None = None
    gateway_error_code: str | None = None
    status: Any = None
    """Envelope ``status`` (10 success / 20 failure), when the body was an envelope."""
    err_code: str | None = None
    err_message: str | None = None
    sub_err_code: str | None = None
    sub_err_message: str | None = None
    api_invoke_id: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        **gateway: Any,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.url = url
        self.request_id = request_id
        self.retry_after = retry_after
        """Seconds the server asked us to wait (``Retry-After``), if it said."""
        for name, value in gateway.items():
            if name not in self.GATEWAY_FIELDS:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword {name!r}")
            if value is not None:
                setattr(self, name, value)

    @property
    def code(self) -> str | None:
        """The most specific error code available (sub-error, envelope, then gateway)."""
        return self.sub_err_code or self.err_code or self.gateway_error_code

    def __str__(self) -> str:
        details: list[str] = []
        if self.status_code is not None:
            details.append(f"HTTP {self.status_code}")
        if self.method and self.url:
            details.append(f"{self.method} {self.url}")
        if self.gateway_message:
            details.append(f"X-Ca-Error-Message={self.gateway_message!r}")
        if self.gateway_error_code:
            details.append(f"X-Ca-Error-Code={self.gateway_error_code}")
        if self.status is not None:
            details.append(f"status={self.status}")
        for label, value in (
            ("errCode", self.err_code),
            ("errMessage", self.err_message),
            ("subErrCode", self.sub_err_code),
            ("subErrMessage", self.sub_err_message),
            ("apiInvokeId", self.api_invoke_id),
            ("request id", self.request_id),
        ):
            if value:
                details.append(f"{label}={value}")
        return f"{self.message} [{', '.join(details)}]" if details else self.message


class AuthenticationError(APIError):
    """The gateway rejected the credentials or the request signature."""


class SignatureError(AuthenticationError):
    """The gateway computed a different signature.

    ``server_string_to_sign`` (newlines restored) and ``client_string_to_sign`` are both kept,
    and the message shows them side by side: usually the app secret is wrong, or something
    between us and the gateway changed a signed header or the body.
    """

    def __init__(
        self,
        message: str,
        *,
        client_string_to_sign: str | None = None,
        server_string_to_sign: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.client_string_to_sign = client_string_to_sign
        self.server_string_to_sign = server_string_to_sign

    def __str__(self) -> str:
        text = super().__str__()
        if self.server_string_to_sign is not None or self.client_string_to_sign is not None:
            text += (
                "\n  server StringToSign: "
                + repr(self.server_string_to_sign)
                + "\n  client StringToSign: "
                + repr(self.client_string_to_sign)
            )
        return text


class TimestampError(AuthenticationError):
    """``X-Ca-Timestamp`` was rejected (``Timestamp Expired`` / ``Invalid Timestamp``).

    The gateway accepts timestamps within 15 minutes of its own clock; check the system clock.
    """


class NonceReusedError(AuthenticationError):
    """The gateway has already seen this ``X-Ca-Nonce`` within its 15-minute window."""


class PermissionDeniedError(APIError):
    """The app is not authorized for this API (HTTP 403 ``Unauthorized``)."""


class RateLimitError(APIError):
    """Flow control rejected the request (gateway ``Throttled by … Flow Control`` or HTTP 429)."""


class QuotaExceededError(APIError):
    """The account's quota is exhausted or expired, or the account is in arrears."""


class NotFoundError(APIError):
    """The API, workflow, version or task does not exist."""


class BadRequestError(APIError):
    """The service refused the request as invalid."""


class ServerError(APIError):
    """The service failed (HTTP 5xx, or an envelope error that says the backend is busy)."""


class ResponseValidationError(APIError):
    """The response could not be read: not JSON, truncated, or not the documented shape.

    ``incomplete`` is True when the body looks cut short or garbled in transit (empty, or JSON
    that stops mid-way): another attempt may get it whole. ``over_limit`` is True when the body
    is larger or more deeply nested than the client reads (a hostile or broken server: asking
    again would only repeat it). Whether to retry is decided in one place, the retry rules,
    from these facts.
    """

    def __init__(
        self, message: str, *, incomplete: bool = False, over_limit: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.incomplete = incomplete
        self.over_limit = over_limit


class OutcomeUnknownError(SpeedPixError):
    """A request that must not be sent twice (a submit, a training, a portrait) was sent, but no
    usable answer came back: it may or may not have been carried out.

    The SDK deliberately does not send it again (that could do the work — and bill it — twice).
    Decide from your own records whether to repeat it. ``operation`` names what was sent.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        attempts: int = 1,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.attempts = attempts
        self.request_id = request_id


#: The official Python SDK's name for the root, so code written against it keeps working.
SpeedPixException = SpeedPixError


def public_path(namespace: dict[str, Any], names: list[str]) -> None:
    """Show errors under their public path (``speedpix_async.InputError``) in tracebacks and
    reprs — also where pickle finds the classes again."""
    for name in names:
        namespace[name].__module__ = "speedpix_async"


public_path(globals(), [*__all__])
