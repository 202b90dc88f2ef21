"""SpeedPix's own errors: a task that failed, a deadline that passed, a submit whose outcome
is unknown. (The error root and the errors every service shares are in ``_errors.py``.)"""

from __future__ import annotations

from .._errors import OutcomeUnknownError, SpeedPixError, public_path
from .models import Prediction

__all__ = [
    "PredictionError",
    "PredictionFailedError",
    "PredictionTimeoutError",
    "SubmitOutcomeUnknownError",
    "SubmitTimeoutError",
]


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


#: The official Python SDK's name, so code written against it keeps working.
PredictionError = PredictionFailedError

public_path(globals(), __all__)
