"""The error tree (docs/architecture.md, "Errors").

One root, :class:`SpeedPixError`; subclasses by *cause*, so callers can catch what they can act
on. Every :class:`APIError` carries what a support ticket needs: HTTP status, the gateway's
``X-Ca-Error-Message`` / ``X-Ca-Error-Code``, the envelope codes, ``apiInvokeId`` and the request
id. No message ever contains an app secret, a token, a signature or a signed URL's query string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Prediction

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "FaceCountMismatchError",
    "InputError",
    "JournalDamagedError",
    "LocalFileAsTextWarning",
    "NonceReusedError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PortraitAuthenticationError",
    "PortraitError",
    "PortraitInputError",
    "PortraitJobFailedError",
    "PortraitJobTimeoutError",
    "PortraitNotFoundError",
    "PortraitProcessingError",
    "PortraitQuotaError",
    "PortraitServerError",
    "PredictionError",
    "PredictionFailedError",
    "PredictionTimeoutError",
    "QuotaExceededError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "SignatureError",
    "SpeedPixError",
    "SpeedPixException",
    "SubmitOutcomeUnknownError",
    "SubmitTimeoutError",
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
    """The service (or the API gateway in front of it) answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
        gateway_message: str | None = None,
        gateway_error_code: str | None = None,
        status: Any = None,
        err_code: str | None = None,
        err_message: str | None = None,
        sub_err_code: str | None = None,
        sub_err_message: str | None = None,
        api_invoke_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.url = url
        self.request_id = request_id
        self.gateway_message = gateway_message
        self.gateway_error_code = gateway_error_code
        self.status = status
        """Envelope ``status`` (10 success / 20 failure), when the body was an envelope."""
        self.err_code = err_code
        self.err_message = err_message
        self.sub_err_code = sub_err_code
        self.sub_err_message = sub_err_message
        self.api_invoke_id = api_invoke_id
        self.retry_after = retry_after
        """Seconds the server asked us to wait (``Retry-After``), if it said."""

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


class SubmitOutcomeUnknownError(OutcomeUnknownError):
    """``comfy_prompt`` was sent but no usable answer came back.

    The task may or may not exist. The API has no list endpoint, so the SDK cannot check, and it
    deliberately does not submit again (that could run the workflow twice). Decide from your own
    records whether to resubmit.
    """

    def __init__(
        self,
        message: str,
        *,
        workflow_id: str,
        alias_id: str | None = None,
        version_id: str | None = None,
        attempts: int = 1,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            message, operation="comfy_prompt", attempts=attempts, request_id=request_id
        )
        self.workflow_id = workflow_id
        self.alias_id = alias_id
        self.version_id = version_id


class PredictionFailedError(SpeedPixError):
    """The task ended in ``failed``. ``prediction`` holds the final snapshot."""

    def __init__(
        self,
        message: str,
        *,
        prediction: Prediction,
        error_code: str | None = None,
        api_invoke_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.prediction = prediction
        self.error_code = error_code
        self.api_invoke_id = api_invoke_id

    @property
    def task_id(self) -> str:
        return self.prediction.id


class PredictionTimeoutError(SpeedPixError, TimeoutError):
    """The call's deadline (``timeout=``) passed before the task finished.

    When the task had been created, ``task_id`` names it: it keeps running on the server; resume
    with ``client.predictions.wait(err.task_id)``. ``task_id`` is ``None`` when the deadline
    passed before a task existed (while uploading inputs, or before the submit was sent).
    ``server_unreachable`` is True when the last polls failed to reach the server; the last
    transport error is then the exception's ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str | None,
        timeout: float,
        prediction: Prediction | None = None,
        server_unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.timeout = timeout
        self.prediction = prediction
        self.server_unreachable = server_unreachable

    @property
    def last_status(self) -> str | None:
        return None if self.prediction is None else str(self.prediction.status)


class SubmitTimeoutError(SubmitOutcomeUnknownError, PredictionTimeoutError):
    """The call's deadline passed while the submit was on the wire: the task may or may not
    exist, exactly as for :class:`SubmitOutcomeUnknownError` (which this is, as well as a
    :class:`PredictionTimeoutError` with ``task_id`` None)."""

    def __init__(
        self,
        message: str,
        *,
        workflow_id: str,
        timeout: float,
        alias_id: str | None = None,
        version_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        SpeedPixError.__init__(self, message)
        self.operation = "comfy_prompt"
        self.workflow_id = workflow_id
        self.alias_id = alias_id
        self.version_id = version_id
        self.attempts = attempts
        self.request_id = None
        self.task_id = None
        self.timeout = timeout
        self.prediction = None
        self.server_unreachable = False


# ------------------------------------------------------------------------------ AI Portrait


class PortraitError(APIError):
    """The AI Portrait service answered with an error (any HTTP status but 200).

    ``code`` is the envelope's code (``PARAMETER_ERROR``, ``EXCEEDED_QUOTA_ERROR``, ``error``…),
    ``server_message`` its message, ``request_id`` the envelope's ``request_id``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        server_message: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.portrait_code = code
        self.server_message = server_message

    @property
    def code(self) -> str | None:
        return self.portrait_code

    def __str__(self) -> str:
        details: list[str] = []
        if self.status_code is not None:
            details.append(f"HTTP {self.status_code}")
        if self.method and self.url:
            details.append(f"{self.method} {self.url}")
        if self.portrait_code:
            details.append(f"code={self.portrait_code}")
        if self.server_message:
            details.append(f"message={self.server_message!r}")
        if self.request_id:
            details.append(f"request id={self.request_id}")
        return f"{self.message} [{', '.join(details)}]" if details else self.message


class PortraitAuthenticationError(PortraitError, AuthenticationError):
    """HTTP 401 ``sign error`` (wrong token) or 400 ``not found appid`` (unknown AppId)."""


class PortraitQuotaError(PortraitError, QuotaExceededError):
    """HTTP 400 ``EXCEEDED_QUOTA_ERROR``: the account's call quota is used up."""


class PortraitNotFoundError(PortraitError, NotFoundError):
    """HTTP 404 ``model not found``: the model service (e.g. SDXL) is not deployed for you, or
    the job does not exist."""


class PortraitInputError(PortraitError, BadRequestError):
    """HTTP 462 (or another 400): the service refused the input — the template, the model id
    or the configuration."""


class PortraitProcessingError(PortraitError, ServerError):
    """HTTP 469: generating the portrait failed (face fusion or a diffusion pass)."""


class FaceCountMismatchError(PortraitProcessingError):
    """HTTP 469: the template holds a different number of faces than model ids were given."""


class PortraitServerError(PortraitError, ServerError):
    """HTTP 500 (or another 5xx) from the AI Portrait service."""


class PortraitJobFailedError(SpeedPixError):
    """A training job ended in state 3 (FAILED). ``job`` holds the final snapshot."""

    def __init__(self, message: str, *, job: Any) -> None:
        super().__init__(message)
        self.job = job

    @property
    def job_id(self) -> int:
        job_id: int = self.job.id
        return job_id


class PortraitJobTimeoutError(SpeedPixError, TimeoutError):
    """The wait's deadline passed before the training job ended. The job keeps running;
    resume with ``client.jobs.wait(err.job_id)``."""

    def __init__(
        self,
        message: str,
        *,
        job_id: int,
        timeout: float,
        job: Any = None,
        server_unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.timeout = timeout
        self.job = job
        self.server_unreachable = server_unreachable


#: Names used by the official Python SDK, so code written against it keeps working.
SpeedPixException = SpeedPixError
PredictionError = PredictionFailedError


# Tracebacks and reprs show the public path (speedpix_async.InputError), which is also where
# pickle finds the classes again.
for _name in __all__:
    globals()[_name].__module__ = "speedpix_async"
