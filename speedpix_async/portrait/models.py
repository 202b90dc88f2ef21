"""AI Portrait data models: photo checks, training jobs and their results.

Field names follow the service's snake_case; ``Result`` (a JSON string on the wire) is parsed
into :class:`TrainingResult`. See docs/protocol.md, "AI Portrait".
"""

from __future__ import annotations

import enum
import re
from typing import Any, TypeGuard

import attrs

from .._core.answers import load_json

__all__ = [
    "JOB_ID_MAX",
    "CheckCode",
    "CheckResult",
    "Job",
    "JobState",
    "TrainingResult",
    "is_job_id",
]

#: Job ids are non-negative 32-bit integers in every official SDK.
JOB_ID_MAX = 2**31 - 1


def is_job_id(value: Any) -> TypeGuard[int]:
    """The one rule for a job id, wherever one comes from (a caller, a train answer): an int
    (not a bool, not a float) within 0–:data:`JOB_ID_MAX`."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= JOB_ID_MAX


class CheckCode(enum.IntEnum):
    """The result of checking one photo (``check_results[].code``).

    The guide's table lists 1–6; its prose also says a check answers "0 or 1", so 0 is read as
    a failed check without a detailed reason."""

    NOT_MET = 0
    """The photo does not meet the requirements (no detailed reason given)."""
    OK = 1
    """The photo meets the requirements."""
    UNREADABLE = 2
    """The photo cannot be downloaded or decoded."""
    FACE_COUNT = 3
    """The photo does not hold exactly one face."""
    DETECTION_FAILED = 4
    """Face detection failed."""
    NOT_ENCODABLE = 5
    """The face could not be encoded into features (usually: no usable face)."""
    DIFFERENT_PERSON = 6
    """The face is not the same person as in the other photos."""

    @classmethod
    def _missing_(cls, value: object) -> CheckCode | None:
        # Codes the guide does not list are kept rather than refused: a new code must not
        # break a check.
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        member = int.__new__(cls, value)
        member.__dict__.update(_name_=f"CODE_{value}", _value_=value)
        return member

    @property
    def meaning(self) -> str:
        return _MEANINGS.get(self, f"code {int(self)}, which the guide does not describe")


_MEANINGS = {
    CheckCode.NOT_MET: "the photo does not meet the requirements (no reason given)",
    CheckCode.OK: "the photo meets the requirements",
    CheckCode.UNREADABLE: "the photo cannot be downloaded or decoded",
    CheckCode.FACE_COUNT: "the photo does not hold exactly one face",
    CheckCode.DETECTION_FAILED: "face detection failed",
    CheckCode.NOT_ENCODABLE: "the face could not be encoded (usually no usable face)",
    CheckCode.DIFFERENT_PERSON: "not the same person as in the other photos",
}


@attrs.frozen(kw_only=True)
class CheckResult:
    """How one photo fared in ``check_images``."""

    url: str
    code: CheckCode
    frontal: bool = False
    """Whether the face looks straight at the camera."""
    message: str = ""
    """The service's own words (``success``, ``Number of face is not 1.``…)."""

    @property
    def ok(self) -> bool:
        return self.code is CheckCode.OK

    @property
    def meaning(self) -> str:
        """The code's meaning, from the AI Portrait guide."""
        return self.code.meaning


class JobState(enum.IntEnum):
    """A training job's state (``job.state``)."""

    INIT = 0
    WAIT = 1
    """Queued or running."""
    SUCCESS = 2
    FAILED = 3

    @property
    def is_terminal(self) -> bool:
        return self in (JobState.SUCCESS, JobState.FAILED)


@attrs.frozen(kw_only=True)
class TrainingResult:
    """The ``Result`` of a finished training job (a JSON string on the wire)."""

    model_id: str | None = None
    """The trained model, to pass to ``create``."""
    cost_time: float | None = None
    """Seconds the training took."""
    states: Any = None
    """Per-photo details, as the service gives them."""
    raw: dict[str, Any] = attrs.Factory(dict)
    """Every field of the result, including ones not listed here."""

    @classmethod
    def parse(cls, value: Any) -> TrainingResult | None:
        """From the wire: a JSON string (the Go SDK's type), an object (the Java SDK's), or
        empty while the job runs. Raises ``ValueError`` for anything else."""
        if value is None or value == "":
            return None
        if isinstance(value, str):
            # Depth-bounded: a hostile Result nested 200,000 deep is a ValueError, never a
            # RecursionError.
            value = load_json(value.encode())
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {type(value).__name__}")
        model_id = value.get("model_id")
        if model_id is not None and not (isinstance(model_id, str) and model_id):
            raise ValueError(f"its model_id is {model_id!r}, not a model id string")
        cost = value.get("cost_time")
        seconds = None
        if isinstance(cost, (int, float)) and not isinstance(cost, bool) and abs(cost) < 1e300:
            seconds = float(cost)
        return cls(
            model_id=model_id,
            cost_time=seconds,
            states=value.get("states"),
            raw=dict(value),
        )


_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_STATE_WORDS = {
    JobState.INIT: "queued",
    JobState.WAIT: "training",
    JobState.SUCCESS: "succeeded",
    JobState.FAILED: "failed",
}


@attrs.frozen(kw_only=True)
class Job:
    """A snapshot of one training job (``POST /api/v1/async_jobs/{id}``)."""

    id: int
    state: JobState
    message: str = ""
    """The service's progress or failure text."""
    result: TrainingResult | None = None
    """Set once the job succeeded."""
    app_id: str | None = None
    model_id: str | None = None
    """The model being trained (known from ``train``; also in the result once done)."""

    @property
    def done(self) -> bool:
        return self.state.is_terminal

    @property
    def succeeded(self) -> bool:
        return self.state is JobState.SUCCESS

    @property
    def failed(self) -> bool:
        return self.state is JobState.FAILED

    @property
    def status(self) -> str:
        """The state in a word: ``queued``, ``training``, ``succeeded`` or ``failed``."""
        return _STATE_WORDS[self.state]

    @property
    def percent(self) -> float | None:
        """How far the training is, when the service's message says (``training: 68%`` →
        68.0); None otherwise. 100 once the job succeeded."""
        if self.state is JobState.SUCCESS:
            return 100.0
        found = _PERCENT.search(self.message or "")
        return None if found is None else max(0.0, min(100.0, float(found.group(1))))

    def __str__(self) -> str:
        """One line for a log or a terminal: ``job 7 training: 68%``."""
        word = self.status
        if self.state is JobState.SUCCESS:
            return f"job {self.id} {word}" + (f" (model {self.model_id})" if self.model_id else "")
        message = (self.message or "").strip()
        if not message or message.lower() in (word, self.state.name.lower()):
            return f"job {self.id} {word}"
        separator = " " if message.lower().startswith(word) else f" {word}: "
        return f"job {self.id}{separator}{message}"
