"""Public data models: frozen attrs classes with snake_case names.

Wire naming (camelCase on most endpoints) lives only in :mod:`speedpix_async._converter`; these
classes never mention it.
"""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any

import attrs

from .._redact import redact_url

__all__ = [
    "BatchResult",
    "Prediction",
    "Progress",
    "TaskResult",
    "TaskStatus",
    "UploadedFile",
]


class TaskStatus(str, enum.Enum):
    """A task's state (docs/protocol.md, "Task states"). Compares equal to its wire string.

    Unknown strings from the server (``"canceled"``, a future ``"paused"``…) do not raise: they
    become members created on the fly that keep the server's spelling, so a new state never
    crashes a running wait.
    """

    WAITING = "waiting"
    """Queued; ``Progress.queue_position`` says how many tasks are ahead."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @classmethod
    def _missing_(cls, value: object) -> TaskStatus | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        # Enum's pseudo-member protocol: a member is described by its _name_ and _value_.
        member.__dict__.update(_name_=value.upper(), _value_=value)
        return member

    @property
    def is_known(self) -> bool:
        """Whether this is one of the four documented states."""
        return self.value in _KNOWN

    @property
    def is_terminal(self) -> bool:
        """Whether the task will not change any more.

        ``canceled`` / ``cancelled`` are undocumented but terminal wherever an SDK knows them
        (docs/protocol.md), so they count as terminal too rather than being polled forever.
        """
        return self.value in _TERMINAL

    def __str__(self) -> str:
        return str(self.value)


_KNOWN = frozenset({"waiting", "running", "succeeded", "failed"})
_TERMINAL = frozenset({"succeeded", "failed", "canceled", "cancelled"})


@attrs.frozen(kw_only=True)
class Progress:
    """One progress report of a task (``comfy_get_progress``), as yielded by ``watch()`` and
    passed to ``on_progress``."""

    task_id: str
    status: TaskStatus
    progress: float = 0.0
    """Fraction done, 0..1 (meaningful while running)."""
    eta: float | None = None
    """Estimated seconds until the task finishes, per the server (``etaRelative``)."""
    queue_position: int | None = None
    """Tasks ahead in the queue, meaningful while waiting (``lastQueueRemaining``)."""
    message: str | None = None
    """Short human-readable progress text from the server."""
    state: dict[str, Any] | None = None
    """Per-node detail; its structure is not documented."""

    @property
    def percent(self) -> float:
        """``progress`` as a percentage clamped to 0..100."""
        return max(0.0, min(100.0, self.progress * 100.0))

    def __str__(self) -> str:
        """One line for a log or a terminal: ``running 42% (~3.1 s left)``."""
        status = str(self.status)
        if self.status == TaskStatus.WAITING:
            ahead = "" if self.queue_position is None else f", {self.queue_position} ahead"
            return f"{status}{ahead}"
        if self.status.is_terminal:
            return status
        left = "" if self.eta is None else f" (~{self.eta:.1f} s left)"
        return f"{status} {self.percent:.0f}%{left}"


@attrs.frozen(kw_only=True)
class TaskResult:
    """What ``comfy_get_result`` returned (docs/protocol.md), before output conversion."""

    task_id: str
    status: TaskStatus
    task_duration: float | None = None
    """Execution time in milliseconds."""
    task_begin_time: int | None = None
    """Start, in milliseconds since the epoch."""
    task_end_time: int | None = None
    """End, in milliseconds since the epoch."""
    images: list[Any] = attrs.Factory(list)
    """Default output image URLs (used when the workflow has no custom outputs)."""
    result: dict[str, Any] | None = None
    """Custom output fields configured when the workflow was published."""
    info: Any = None
    parameters: Any = None
    imgs_bytes: list[str] | None = None


def _ms_to_datetime(value: float | None) -> _dt.datetime | None:
    if value is None:
        return None
    return _dt.datetime.fromtimestamp(value / 1000.0, tz=_dt.timezone.utc)


@attrs.frozen(kw_only=True)
class Prediction:
    """A snapshot of one task, assembled from submit, progress and result answers.

    Snapshots never change; ``handle.reload()`` fetches a new one.
    """

    id: str
    """The task id (``taskId``)."""
    status: TaskStatus
    workflow_id: str | None = None
    alias_id: str | None = None
    version_id: str | None = None
    progress: float = 0.0
    eta: float | None = None
    """Server-estimated seconds remaining."""
    queue_position: int | None = None
    message: str | None = None
    estimated_duration: float | None = None
    """``estimatedDurationInSeconds`` from the submit answer."""
    output: Any = None
    """The converted result once the task succeeded (see ``client.run``)."""
    error: str | None = None
    """Why the task failed, when it did."""
    error_code: str | None = None
    api_invoke_id: str | None = None
    """``apiInvokeId`` of the call that reported the final state (quote it to support)."""
    task_duration_ms: float | None = None
    started_at: _dt.datetime | None = None
    completed_at: _dt.datetime | None = None
    created_at: _dt.datetime | None = None
    """When this client submitted the task (client clock)."""
    result: TaskResult | None = attrs.field(default=None, repr=False)
    """The raw ``comfy_get_result`` answer, once fetched."""

    @property
    def task_id(self) -> str:
        """Alias of :attr:`id`."""
        return self.id

    @property
    def done(self) -> bool:
        return self.status.is_terminal

    @property
    def succeeded(self) -> bool:
        return self.status == TaskStatus.SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.status.is_terminal and self.status != TaskStatus.SUCCEEDED

    def with_progress(self, report: Progress) -> Prediction:
        """This snapshot updated with a progress report."""
        return attrs.evolve(
            self,
            status=report.status,
            progress=report.progress,
            eta=report.eta,
            queue_position=report.queue_position,
            message=report.message,
        )

    def with_result(self, result: TaskResult, output: Any, api_invoke_id: str | None) -> Prediction:
        """This snapshot completed by a ``comfy_get_result`` answer."""
        return attrs.evolve(
            self,
            status=result.status,
            progress=1.0 if result.status == TaskStatus.SUCCEEDED else self.progress,
            eta=0.0 if result.status.is_terminal else self.eta,
            output=output,
            task_duration_ms=result.task_duration,
            started_at=_ms_to_datetime(result.task_begin_time),
            completed_at=_ms_to_datetime(result.task_end_time),
            api_invoke_id=api_invoke_id or self.api_invoke_id,
            result=result,
        )


@attrs.frozen(kw_only=True)
class UploadedFile:
    """A file uploaded with ``client.files.create`` (docs/protocol.md, "Uploads")."""

    access_url: str = attrs.field(repr=lambda url: repr(redact_url(url)))
    """Pass this as a workflow input value (time-limited; its query string is a credential, so
    the repr hides it)."""
    object_key: str
    path: str
    expire_time: int | None = None
    """When the upload URL expires, in milliseconds since the epoch (unit inferred)."""
    name: str = "file"
    content_type: str = "application/octet-stream"
    size: int | None = None
    """Bytes uploaded."""

    @property
    def url(self) -> str:
        """Alias of :attr:`access_url` (the Go SDK's name)."""
        return self.access_url


@attrs.frozen(kw_only=True)
class BatchResult:
    """One item of ``client.run_many``: either ``output`` or ``error`` is set."""

    index: int
    """Position of the input in the iterable given to ``run_many``."""
    input: Any
    output: Any = None
    error: BaseException | None = None
    prediction: Prediction | None = None
    """The final snapshot, when a task was created."""

    @property
    def ok(self) -> bool:
        return self.error is None
