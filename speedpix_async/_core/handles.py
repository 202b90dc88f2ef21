"""What every service's waits share, written once: the wait options (validated before anything
is sent), one deadline per call, the wording of a deadline error, and ``watch()``.

A service describes its remote job to the core's wait loop (:mod:`.waiting`) with a *look*;
this module is the layer its handles stand on (SpeedPix's ``predictions.wait`` / handle
``watch()``, AI Portrait's ``jobs.wait`` / handle ``watch()``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Generic, TypeVar

import attrs

from .._config import PollPolicy
from .._validate import check_callable, check_interval, check_seconds
from .retry import SYSTEM_CLOCK, Clock
from .waiting import Deadline, Look, Schedule, Waiter, WaitTimeout

__all__ = ["Subject", "WaitOptions", "Waits", "timeout_message", "watch"]

R = TypeVar("R")
Report = TypeVar("Report")


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
    ) -> Waiter[R]:
        """A wait on one job: ``look`` polls it, ``first_eta`` is the submit's estimate (None:
        look at once), ``interval`` a fixed polling interval (None: follow the server)."""
        schedule = Schedule(self.poll, first_eta=first_eta, interval=interval, clock=self.clock)
        return Waiter(look, schedule=schedule, deadline=deadline, clock=self.clock)


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
    """The message of a deadline error: what the client last knew, and how to go on."""
    error = expired.last_error
    within = f"{subject.name} did not finish within {deadline.timeout:g}s"
    if error is not None:
        where = getattr(error, "url", None) or subject.runs_on
        return (
            f"{within}: {where} did not answer the last {expired.failures} poll(s) (last error: "
            f"{error}); it may still be running — resume with {subject.resume} once "
            f"{subject.runs_on} is reachable"
        )
    return (
        f"{within} (last state {subject.state!r}); it keeps running on {subject.runs_on} — "
        f"resume with {subject.resume} or pass a larger timeout="
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
