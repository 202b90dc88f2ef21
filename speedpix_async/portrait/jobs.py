"""Training jobs: ``client.jobs`` and the handle ``train()`` returns, over the core's one wait
loop (docs/architecture.md).

A job moves 0 INIT → 1 WAIT → 2 SUCCESS or 3 FAILED. The service reports no estimate of the
time left, so a wait backs off between polls (the client's poll policy: 2 s growing to 30 s by
default) until the job ends or the deadline passes; a failed job raises
:class:`~speedpix_async.PortraitJobFailedError` with the service's message. Every wait can be
resumed from the job id alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs

from .._config import PollPolicy
from .._core.waiting import Deadline, Look, Schedule, Waiter, WaitTimeout
from .._errors import InputError, PortraitJobFailedError, PortraitJobTimeoutError
from .._validate import check_callable, check_interval, check_seconds
from .endpoints import PortraitEndpoints
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


class JobWaits:
    """Looking at and waiting on training jobs for one client."""

    def __init__(self, endpoints: PortraitEndpoints, poll: PollPolicy) -> None:
        self.endpoints = endpoints
        self.poll = poll

    def deadline(self, timeout: float | None) -> Deadline:
        return Deadline(self.poll.default_timeout if timeout is None else timeout)

    def waiter(self, job: Job, deadline: Deadline, polling_interval: float | None) -> Waiter[Job]:
        async def look(aimed: bool) -> Look[Job]:
            latest = await self.endpoints.job(job.id)
            if latest.model_id is None and job.model_id is not None:
                latest = _with_model(latest, job.model_id)
            return Look(report=latest, done=latest.done, final=latest if latest.done else None)

        schedule = Schedule(self.poll, first_eta=None, interval=polling_interval)
        return Waiter(look, schedule=schedule, deadline=deadline)

    async def wait(
        self,
        job: Job,
        *,
        timeout: float | None,
        on_progress: JobCallback | None,
        polling_interval: float | None,
    ) -> Job:
        """Wait until the job ends; return it (SUCCESS) or raise."""
        check_callable("on_progress", on_progress, takes="Job")
        deadline = self.deadline(check_seconds("timeout", timeout))
        interval = check_interval("polling_interval", polling_interval)
        waiter = self.waiter(job, deadline, interval)
        last = [job]

        async def report(latest: Job) -> None:
            last[0] = latest
            if on_progress is not None:
                result = on_progress(latest)
                if result is not None:
                    await result

        try:
            final = await waiter.until_done(_never_needed, on_report=report)
        except WaitTimeout as expired:
            raise timed_out(last[0], deadline, expired) from expired.last_error
        return finished(final)


async def _never_needed(look: Look[Job]) -> Job:
    # A job query reports the final state itself; the loop never asks for it separately.
    raise AssertionError("a finished job look always carries its final state")


def _with_model(job: Job, model_id: str) -> Job:
    return attrs.evolve(job, model_id=model_id)


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
    error = expired.last_error
    resume = f"client.jobs.wait({job.id})"
    if error is not None:
        where = getattr(error, "url", None) or "the service"
        message = (
            f"training job {job.id} did not finish within {deadline.timeout:g}s: {where} did not "
            f"answer the last {expired.failures} poll(s) (last error: {error}); the job may still "
            f"be running — resume with {resume} once it is reachable"
        )
    else:
        message = (
            f"training job {job.id} did not finish within {deadline.timeout:g}s (last state "
            f"{job.state.name}); it keeps running on the service — resume with {resume} or pass "
            "a larger timeout="
        )
    return PortraitJobTimeoutError(
        message,
        job_id=job.id,
        timeout=deadline.timeout,
        job=job,
        server_unreachable=error is not None,
    )


class AsyncJobHandle:
    """A training job. Returned by ``train()`` (with the model being trained) and
    ``client.jobs.handle(job_id)``."""

    def __init__(self, job: Job, *, waits: JobWaits) -> None:
        self._job = job
        self._waits = waits

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
        latest = await self._waits.endpoints.job(self.job_id)
        if latest.model_id is None and self._job.model_id is not None:
            latest = _with_model(latest, self._job.model_id)
        self._job = latest
        return latest

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

        async def track(latest: Job) -> None:
            self._job = latest
            if on_progress is not None:
                result = on_progress(latest)
                if result is not None:
                    await result

        self._job = await self._waits.wait(
            self._job, timeout=timeout, on_progress=track, polling_interval=polling_interval
        )
        return self._job

    async def watch(
        self, *, timeout: float | None = None, polling_interval: float | None = None
    ) -> AsyncIterator[Job]:
        """Yield each snapshot until the job ends (the last one is final). Raises like
        :meth:`wait` when it failed or the deadline passed."""
        deadline = self._waits.deadline(check_seconds("timeout", timeout))
        interval = check_interval("polling_interval", polling_interval)
        waiter = self._waits.waiter(self._job, deadline, interval)
        while not self._job.done:
            try:
                look = await waiter.next()
            except WaitTimeout as expired:
                raise timed_out(self._job, deadline, expired) from expired.last_error
            self._job = look.report
            yield look.report
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
        return await self._waits.wait(
            job, timeout=timeout, on_progress=on_progress, polling_interval=polling_interval
        )

    def handle(self, job_id: int, *, model_id: str | None = None) -> AsyncJobHandle:
        """A handle to an existing job, for ``reload()``, ``wait()`` and ``watch()``."""
        job = Job(id=check_job_id(job_id), state=JobState.INIT, model_id=model_id)
        return AsyncJobHandle(job, waits=self._waits)
