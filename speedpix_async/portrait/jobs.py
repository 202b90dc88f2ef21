"""Training jobs: ``client.jobs`` and the handle ``train()`` returns, over the core's one wait
loop (docs/architecture.md).

A job moves 0 INIT → 1 WAIT → 2 SUCCESS or 3 FAILED. The service reports no estimate of the
time left, so a wait backs off between polls (the client's poll policy: 2 s growing to 30 s by
default) until the job ends or the deadline passes; a failed job raises
:class:`~speedpix_async.PortraitJobFailedError` with the service's message. Every wait can be
resumed from the job id alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs

from .._core.handles import Subject, WaitOptions, Waits, keeps_running, timeout_message, watch
from .._core.telemetry import JOB, STATUS, span
from .._core.waiting import Deadline, Look, Waiter, WaitTimeout, emit
from .._errors import InputError
from .endpoints import PortraitEndpoints
from .errors import PortraitJobFailedError, PortraitJobTimeoutError
from .models import Job, JobState, is_job_id

__all__ = ["AsyncJobHandle", "AsyncJobs", "JobWaits"]

JobCallback = Callable[[Job], Awaitable[None] | None]
"""``on_progress`` of a job wait: a plain or async function taking one :class:`Job`."""


def check_job_id(value: Any) -> int:
    if not is_job_id(value):
        raise InputError(
            f"job_id must be the integer train() returned (a 32-bit id), got {value!r}"
        )
    return value


def job_options(
    timeout: float | None,
    on_progress: JobCallback | None = None,
    polling_interval: float | None = None,
) -> WaitOptions[Job]:
    return WaitOptions.of(
        timeout=timeout, on_progress=on_progress, polling_interval=polling_interval, takes="Job"
    )


class JobWaits:
    """Looking at and waiting on training jobs for one client."""

    def __init__(self, endpoints: PortraitEndpoints, waits: Waits) -> None:
        self.endpoints = endpoints
        self.waits = waits

    async def latest(self, job: Job) -> Job:
        """The job's current state, keeping the model id ``train`` returned."""
        latest = await self.endpoints.job(job.id)
        if latest.model_id is None and job.model_id is not None:
            latest = attrs.evolve(latest, model_id=job.model_id)
        return latest

    def waiter(
        self,
        job: Job,
        deadline: Deadline,
        polling_interval: float | None,
        *,
        watched: bool = False,
        heard_at: float | None = None,
    ) -> Waiter[Job]:
        async def look(aimed: bool) -> Look[Job]:
            latest = await self.latest(job)
            return Look(report=latest, done=latest.done, final=latest if latest.done else None)

        # The service reports no estimate: unwatched, polls back off from the first one;
        # watched, they come at the watch cadence (a fraction of the time waited so far).
        return self.waits.waiter(
            look,
            deadline=deadline,
            first_eta=None,
            interval=polling_interval,
            watched=watched,
            heard_at=heard_at,
        )

    async def wait(
        self,
        job: Job,
        options: WaitOptions[Job],
        *,
        track: Callable[[Job], None] | None = None,
        heard_at: float | None = None,
    ) -> Job:
        """Wait until the job ends; return it (SUCCESS) or raise. ``track`` is told every
        snapshot. With ``on_progress`` the wait is watched: the snapshot ``train`` returned
        first (``heard_at`` set: a fresh job), then fresh ones at the watch cadence. In a
        ``portrait.job.wait`` span when telemetry is on."""
        with span("portrait.job.wait", {JOB: job.id}) as current:
            deadline = self.waits.deadline(options.timeout)
            watched = options.on_progress is not None
            waiter = self.waiter(
                job, deadline, options.polling_interval, watched=watched, heard_at=heard_at
            )
            last = [job]

            async def report(latest: Job) -> None:
                last[0] = latest
                if track is not None:
                    track(latest)
                await emit(options.on_progress, latest)

            try:
                with keeps_running(f"training job {job.id}", f"client.jobs.wait({job.id})"):
                    if watched and heard_at is not None:
                        await waiter.report(report, job)
                    final = await waiter.until_done(on_report=report)
            except WaitTimeout as expired:
                raise timed_out(last[0], deadline, expired) from expired.last_error
            if current is not None:
                current.set_attribute(STATUS, final.status)
            return finished(final)


def finished(job: Job) -> Job:
    """``job`` if it succeeded; raise for a failed one."""
    if job.state is JobState.FAILED:
        raise PortraitJobFailedError(
            f"training job {job.id} failed: {job.message or 'the service gave no reason'}; "
            "check the photos with check_images() and train again",
            job=job,
        )
    return job


def timed_out(job: Job, deadline: Deadline, expired: WaitTimeout) -> PortraitJobTimeoutError:
    subject = Subject(
        name=f"training job {job.id}",
        state=job.state.name,
        resume=f"client.jobs.wait({job.id})",
        runs_on="the service",
    )
    return PortraitJobTimeoutError(
        timeout_message(subject, deadline, expired),
        job_id=job.id,
        timeout=deadline.timeout,
        job=job,
        server_unreachable=expired.last_error is not None,
    )


class AsyncJobHandle:
    """A training job. Returned by ``train()`` (with the model being trained) and
    ``client.jobs.handle(job_id)``."""

    def __init__(self, job: Job, *, waits: JobWaits, fresh: bool = False) -> None:
        self._job = job
        self._waits = waits
        # A handle train() returned reports its first snapshot (what train answered) to a
        # watched wait; one made from an id asks the service first.
        self._heard_at = waits.waits.now() if fresh else None

    def __repr__(self) -> str:
        return f"<AsyncJobHandle job_id={self.job_id} state={self._job.state.name}>"

    @property
    def job_id(self) -> int:
        return self._job.id

    @property
    def model_id(self) -> str | None:
        """The model being trained (pass it to ``create`` once the job succeeded)."""
        return self._job.model_id

    @property
    def job(self) -> Job:
        """The latest snapshot (call :meth:`reload` to refresh)."""
        return self._job

    async def reload(self) -> Job:
        """Ask the service for the job's current state."""
        self._job = await self._waits.latest(self._job)
        return self._job

    def _track(self, latest: Job) -> None:
        self._job = latest

    async def wait(
        self,
        *,
        timeout: float | None = None,
        on_progress: JobCallback | None = None,
        polling_interval: float | None = None,
    ) -> Job:
        """Poll until the job ends and return it (state SUCCESS, ``result`` set).

        ``on_progress`` (a plain or async function) receives every snapshot. Raises
        :class:`~speedpix_async.PortraitJobFailedError` when the training failed and
        :class:`~speedpix_async.PortraitJobTimeoutError` when ``timeout`` (default 30 minutes)
        passes first — the job keeps running; wait again to resume.
        """
        options = job_options(timeout, on_progress, polling_interval)
        heard_at, self._heard_at = self._heard_at, None
        self._job = await self._waits.wait(self._job, options, track=self._track, heard_at=heard_at)
        return self._job

    async def watch(
        self, *, timeout: float | None = None, polling_interval: float | None = None
    ) -> AsyncIterator[Job]:
        """Yield each snapshot until the job ends (the last one is final). Raises like
        :meth:`wait` when it failed or the deadline passed."""
        options = job_options(timeout, polling_interval=polling_interval)
        deadline = self._waits.waits.deadline(options.timeout)
        heard_at, self._heard_at = self._heard_at, None
        waiter = self._waits.waiter(
            self._job, deadline, options.polling_interval, watched=True, heard_at=heard_at
        )
        if heard_at is not None:
            yield self._job
        reports = watch(
            waiter,
            running=lambda: not self._job.done,
            expired=lambda timeout: timed_out(self._job, deadline, timeout),
        )
        async with contextlib.aclosing(reports):
            async for latest in reports:
                self._job = latest
                yield latest
        finished(self._job)


class AsyncJobs:
    """Training jobs. Reach it as ``client.jobs``."""

    def __init__(self, waits: JobWaits) -> None:
        self._waits = waits

    async def get(self, job_id: int) -> Job:
        """The job's current state (one request)."""
        return await self._waits.endpoints.job(check_job_id(job_id))

    async def wait(
        self,
        job_id: int,
        *,
        timeout: float | None = None,
        on_progress: JobCallback | None = None,
        polling_interval: float | None = None,
    ) -> Job:
        """Wait for a job by id (after a restart, or a
        :class:`~speedpix_async.PortraitJobTimeoutError`) and return it once it succeeded."""
        job = Job(id=check_job_id(job_id), state=JobState.INIT)
        return await self._waits.wait(job, job_options(timeout, on_progress, polling_interval))

    def handle(self, job_id: int, *, model_id: str | None = None) -> AsyncJobHandle:
        """A handle to an existing job, for ``reload()``, ``wait()`` and ``watch()``."""
        job = Job(id=check_job_id(job_id), state=JobState.INIT, model_id=model_id)
        return AsyncJobHandle(job, waits=self._waits)
