"""What every service's waits share, written once: the wait options (validated before anything
is sent), one deadline per call, the wording of a deadline error, and ``watch()``.

A service describes its remote job to the core's wait loop (:mod:`.waiting`) with a *look*;
this module is the layer its handles stand on (SpeedPix's ``predictions.wait`` / handle
``watch()``, AI Portrait's ``jobs.wait`` / handle ``watch()``).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

import anyio
import attrs

from .._config import PollPolicy
from .._errors import APIConnectionError
from .._validate import check_callable, check_interval, check_seconds
from .retry import SYSTEM_CLOCK, Clock
from .telemetry import NOTHING
from .waiting import Calibration, Deadline, Look, Schedule, Waiter, WaitTimeout

__all__ = [
    "RUNNING",
    "Running",
    "Subject",
    "WaitOptions",
    "Waits",
    "keeps_running",
    "timeout_message",
    "watch",
]

R = TypeVar("R")
Report = TypeVar("Report")


class Running:
    """What a call has started on a server that goes on running (and being billed) when the
    call is abandoned — by Ctrl-C, say — and how to resume each: ``{"task 't-1'":
    "client.predictions.wait('t-1')"}``. Whoever runs a call (the blocking twin's runner)
    installs one in :data:`RUNNING`; the services record into it."""

    def __init__(self) -> None:
        self.jobs: dict[str, str] = {}

    def describe(self) -> str | None:
        """One line for the person who interrupted, or None when nothing keeps running."""
        if not self.jobs:
            return None
        parts = [
            f"{name} keeps running on the server; resume with {resume}"
            for name, resume in self.jobs.items()
        ]
        return "; ".join(parts)


#: The record of the call running in this task (see :class:`Running`), if anyone keeps one.
RUNNING: contextvars.ContextVar[Running | None] = contextvars.ContextVar(
    "speedpix_async.running", default=None
)


def keeps_running(name: str, resume: str) -> contextlib.AbstractContextManager[None]:
    """While the block runs, ``name`` (``task 't-1'``) runs on the server and ``resume`` resumes
    waiting for it; recorded for whoever might interrupt the call. An interruption leaves the
    record in place — that is when it is read. Outside a blocking call (no record to keep) it is
    one shared no-op context: a wide fan-out keeps one per waiting prediction."""
    record = RUNNING.get()
    if record is None:
        return NOTHING
    return _recorded(record, name, resume)


@contextlib.contextmanager
def _recorded(record: Running, name: str, resume: str) -> Iterator[None]:
    record.jobs[name] = resume
    try:
        yield
    except anyio.get_cancelled_exc_class():
        raise  # abandoned: it runs on, and the record says so
    except BaseException:
        record.jobs.pop(name, None)  # ended, or reported by the error itself
        raise
    record.jobs.pop(name, None)


@attrs.frozen(kw_only=True)
class WaitOptions(Generic[Report]):
    """How long to wait and what to tell the caller meanwhile."""

    timeout: float | None = None
    """Seconds the whole call may take; ``None``: the poll policy's default (30 minutes)."""
    on_progress: Callable[[Report], Awaitable[None] | None] | None = None
    """Called (plain or async) with each report."""
    polling_interval: float | None = None
    """A fixed interval instead of following the server's estimates."""

    @classmethod
    def of(
        cls,
        *,
        timeout: float | None = None,
        on_progress: Callable[[Report], Awaitable[None] | None] | None = None,
        polling_interval: float | None = None,
        takes: str = "Progress",
    ) -> WaitOptions[Report]:
        """Validated options (``takes`` names what ``on_progress`` is given, for messages)."""
        return cls(
            timeout=check_seconds("timeout", timeout),
            on_progress=check_callable("on_progress", on_progress, takes=takes),
            polling_interval=check_interval("polling_interval", polling_interval),
        )


class Waits:
    """One client's way of waiting: its poll policy and its clock."""

    def __init__(self, poll: PollPolicy, clock: Clock = SYSTEM_CLOCK) -> None:
        self.poll = poll
        self.clock = clock
        self.calibration = Calibration(poll.calibration_ttl, clock=clock)
        """How wrong this client's server has lately been about each workflow's duration."""

    def deadline(self, timeout: float | None) -> Deadline:
        """The deadline of a call given ``timeout=`` (None: the poll policy's default)."""
        seconds = self.poll.default_timeout if timeout is None else timeout
        return Deadline(seconds, clock=self.clock)

    def waiter(
        self,
        look: Callable[[bool], Awaitable[Look[R]]],
        *,
        deadline: Deadline,
        first_eta: float | None,
        interval: float | None,
        watched: bool = False,
        heard_at: float | None = None,
        topic: str | None = None,
    ) -> Waiter[R]:
        """A wait on one job: ``look`` polls it, ``first_eta`` is the submit's estimate (None:
        look at once), ``interval`` a fixed polling interval (None: follow the server),
        ``watched`` whether someone watches (polls at the watch cadence), ``heard_at`` when the
        server last answered about it (the submit, for a fresh job), ``topic`` what jobs of
        the same kind share (a workflow id: how wrong their estimates are)."""
        schedule = Schedule(
            self.poll,
            first_eta=first_eta,
            interval=interval,
            clock=self.clock,
            watched=watched,
            calibration=self.calibration,
            topic=topic,
        )
        return Waiter(
            look, schedule=schedule, deadline=deadline, clock=self.clock, heard_at=heard_at
        )

    def now(self) -> float:
        """The clock's monotonic time (for ``heard_at``)."""
        return self.clock.monotonic()


@attrs.frozen(kw_only=True)
class Subject:
    """What a deadline error is about, in the words of its service."""

    name: str
    """``task 't-1'``, ``training job 7``."""
    state: str
    """The last state the client knew."""
    resume: str
    """The call that resumes the wait: ``client.predictions.wait('t-1')``."""
    runs_on: str = "the server"
    """Where the job keeps running."""


def timeout_message(subject: Subject, deadline: Deadline, expired: WaitTimeout) -> str:
    """The message of a deadline error: what the client last heard, how long ago, and how to
    go on. "It keeps running" is said only when nothing since contradicts the server's word."""
    within = f"{subject.name} did not finish within {deadline.timeout:g}s"
    heard = (
        f"{subject.runs_on} last reported it {subject.state!r} {expired.heard_ago:.1f}s ago"
        if expired.heard_ago is not None
        else f"no poll was answered during this wait (last known state {subject.state!r})"
    )
    error = expired.last_error
    if error is not None:
        where = getattr(error, "url", None) or subject.runs_on
        failing = (
            f"could not be reached ({error})"
            if isinstance(error, APIConnectionError)
            else f"answered with errors (last: {error})"
        )
        return (
            f"{within}: the last {expired.failures} attempt(s) failed — {where} {failing}; "
            f"{heard}. It may still be running: resume with {subject.resume} once "
            f"{subject.runs_on} is reachable"
        )
    if expired.heard_ago is None:
        return (
            f"{within}; {heard}. It may still be running on {subject.runs_on}: resume with "
            f"{subject.resume} or pass a larger timeout="
        )
    return (
        f"{within}; {heard}, so it keeps running there: resume with {subject.resume} or pass "
        "a larger timeout="
    )


async def watch(
    waiter: Waiter[Any],
    *,
    running: Callable[[], bool],
    expired: Callable[[WaitTimeout], Exception],
) -> AsyncGenerator[Any, None]:
    """Yield each look's report while ``running()`` says the job runs; at the deadline raise
    ``expired(timeout)`` (with the last transport error, if any, as its cause).

    The deadline is enforced by the waiter around each step, never around the ``yield`` (a
    cancel scope must not span one); breaking out of the loop simply stops polling.
    """
    while running():
        try:
            look = await waiter.next()
        except WaitTimeout as timeout:
            raise expired(timeout) from timeout.last_error
        yield look.report
