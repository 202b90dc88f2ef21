"""AI Portrait's own errors: the service's error answers (HTTP 400/401/404/462/469/500, by
cause) and training jobs that failed or outlived their deadline."""

from __future__ import annotations

from typing import Any

from .._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OutcomeUnknownError,
    QuotaExceededError,
    ServerError,
    SpeedPixError,
    public_path,
)

__all__ = [
    "FaceCountMismatchError",
    "PortraitAuthenticationError",
    "PortraitError",
    "PortraitInputError",
    "PortraitJobFailedError",
    "PortraitJobTimeoutError",
    "PortraitNotFoundError",
    "PortraitOutcomeTimeoutError",
    "PortraitProcessingError",
    "PortraitQuotaError",
    "PortraitServerError",
    "PortraitTimeoutError",
]


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


class PortraitTimeoutError(SpeedPixError, TimeoutError):
    """A call's deadline (``timeout=`` of ``check_images``, ``train`` or ``create``) passed
    before the service answered, with nothing on the wire that could have been carried out: send
    it again (later, or with a larger ``timeout=``). ``operation`` names the call."""

    def __init__(self, message: str, *, operation: str, timeout: float) -> None:
        super().__init__(message)
        self.operation = operation
        self.timeout = timeout


class PortraitOutcomeTimeoutError(OutcomeUnknownError, PortraitTimeoutError):
    """The deadline passed while ``train`` or ``create`` was on the wire: it may or may not
    have been carried out (and billed), exactly as for :class:`OutcomeUnknownError` (which
    this is, as well as a :class:`PortraitTimeoutError`). The SDK does not send it again."""

    def __init__(self, message: str, *, operation: str, timeout: float) -> None:
        SpeedPixError.__init__(self, message)
        self.operation = operation
        self.timeout = timeout
        self.attempts = 1
        self.request_id = None


public_path(globals(), __all__)
