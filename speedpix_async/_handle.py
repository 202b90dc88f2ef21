"""The prediction handle: one task, with ``reload()``, ``wait()`` and ``watch()``.

A handle keeps the latest :class:`~speedpix_async.models.Prediction` snapshot of its task. Every
wait has a deadline (DESIGN §4.5): the call's ``timeout`` or the client's default. On expiry the
task keeps running on the server and :class:`PredictionTimeoutError` says how to resume.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any, Callable, NoReturn

import anyio
import attrs

from ._errors import APIConnectionError, APIError, PredictionFailedError, PredictionTimeoutError
from ._polling import DeadlineExceeded, Poller, ProgressCallback, emit, is_transient
from ._validate import check_callable, check_seconds
from .models import Prediction, Progress, TaskStatus

if TYPE_CHECKING:
    from .resources.predictions import AsyncPredictions

__all__ = ["AsyncPredictionHandle"]


@attrs.define
class _WaitState:
    """What one ``wait()`` learned from a result fetched at the predicted end."""

    final: Prediction | None = None
    failure_cause: APIError | None = None


class AsyncPredictionHandle:
    """A submitted task. Returned by ``predictions.create()`` and ``run(..., wait=False)``."""

    def __init__(
        self, predictions: AsyncPredictions, prediction: Prediction, *, fresh: bool
    ) -> None:
        self._predictions = predictions
        self._prediction = prediction
        # A fresh handle knows the submit's estimate; a handle to an older task does not and
        # must ask the server before scheduling polls.
        self._fresh = fresh

    def __repr__(self) -> str:
        return f"<AsyncPredictionHandle id={self.id!r} status={str(self.status)!r}>"

    @property
    def id(self) -> str:
        """The task id."""
        return self._prediction.id

    @property
    def status(self) -> TaskStatus:
        """The status in the latest snapshot (call :meth:`reload` to refresh)."""
        return self._prediction.status

    @property
    def prediction(self) -> Prediction:
        """The latest snapshot."""
        return self._prediction

    @property
    def output(self) -> Any:
        """The output once :meth:`wait` has seen the task succeed, else ``None``."""
        return self._prediction.output

    async def reload(self) -> Prediction:
        """Fetch the task's current progress and return the updated snapshot."""
        report = await self._predictions.progress(self.id)
        self._prediction = self._prediction.with_progress(report)
        return self._prediction

    async def cancel(self) -> NoReturn:
        """Not possible: the API has no cancel endpoint; always raises
        :class:`~speedpix_async.UnsupportedOperationError`."""
        await self._predictions.cancel(self.id)

    def _poller(
        self,
        timeout: float | None,
        polling_interval: float | None,
        fetch: Callable[[bool], Awaitable[Progress]] | None = None,
    ) -> Poller:
        client = self._predictions._client
        policy = client._config.poll
        if polling_interval is not None:
            policy = attrs.evolve(
                policy, interval=check_seconds("polling_interval", polling_interval)
            )
        limit = check_seconds("timeout", timeout)
        first_eta = self._prediction.eta if self._fresh else None
        self._fresh = False
        return Poller(
            fetch or self._progress,
            policy=policy,
            timeout=limit if limit is not None else policy.default_timeout,
            first_eta=first_eta,
        )

    async def _progress(self, expect_end: bool = False) -> Progress:
        return await self._predictions.progress(self.id)

    async def _result_or_progress(self, state: _WaitState, expect_end: bool) -> Progress:
        """A poll for ``wait()``: at the predicted end, ask for the result straight away.

        ``comfy_get_result`` also reports unfinished tasks (PROTOCOL A.4.3), so when the ETA
        says the task is done one request both confirms it and fetches the outputs, instead of a
        progress poll followed by a result fetch. The finished snapshot goes to ``state``.
        """
        if not expect_end:
            return await self._progress()
        try:
            snapshot = await self._predictions.result(self.id)
        except APIError as exc:
            if is_transient(exc):
                raise
            # An error answer: maybe the failure of this very task (an undocumented vocabulary),
            # maybe something else. The progress endpoint says which; if the task failed, this
            # envelope is the explanation (kept, so wait() need not fetch it again).
            report = await self._progress()
            if report.status.is_terminal and report.status != TaskStatus.SUCCEEDED:
                state.failure_cause = exc
            return report
        if snapshot.status == TaskStatus.SUCCEEDED:
            state.final = self._merge(snapshot)
            return Progress(
                task_id=self.id,
                status=snapshot.status,
                progress=1.0,
                eta_relative=0.0,
                last_queue_remaining=0,
                message=self._prediction.message,
            )
        if snapshot.status.is_terminal:
            # Failed inside a successful envelope: the progress report carries the reason.
            return await self._progress()
        return Progress(task_id=self.id, status=snapshot.status, progress=self._prediction.progress)

    def _timed_out(self, poller: Poller) -> PredictionTimeoutError:
        status = str(self._prediction.status)
        return PredictionTimeoutError(
            f"task {self.id!r} did not finish within {poller.timeout:g}s (last status "
            f"{status!r}); it keeps running on the server — resume with "
            f"client.predictions.wait({self.id!r}) or pass a larger timeout=",
            task_id=self.id,
            timeout=poller.timeout,
            prediction=self._prediction,
        )

    async def watch(
        self, *, timeout: float | None = None, polling_interval: float | None = None
    ) -> AsyncIterator[Progress]:
        """Yield each progress report until the task ends (the last report is terminal).

        Stops with :class:`~speedpix_async.PredictionTimeoutError` when ``timeout`` passes.
        Breaking out of the loop simply stops polling.
        """
        poller = self._poller(timeout, polling_interval)
        while not self._prediction.status.is_terminal:
            try:
                report = await poller.next()
            except DeadlineExceeded:
                raise self._timed_out(poller) from None
            self._prediction = self._prediction.with_progress(report)
            yield report

    async def wait(
        self,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        polling_interval: float | None = None,
    ) -> Prediction:
        """Poll until the task ends and return the final snapshot, with ``output`` set.

        ``on_progress`` (a plain or async function) receives every progress report.
        Raises :class:`~speedpix_async.PredictionFailedError` if the task failed — including
        when ``comfy_get_result`` reports the failure inside a *successful* envelope — and
        :class:`~speedpix_async.PredictionTimeoutError` when ``timeout`` passes first.
        """
        check_callable("on_progress", on_progress)
        # Per call: two tasks may wait on the same handle at once.
        state = _WaitState()
        poller = self._poller(
            timeout, polling_interval, functools.partial(self._result_or_progress, state)
        )
        try:
            while True:
                if self._prediction.status.is_terminal:
                    if state.failure_cause is not None:
                        raise self._failure(self._prediction, state.failure_cause)
                    final = state.final or await self._fetch_result(poller)
                    if final.status.is_terminal:
                        break
                report = await poller.next()
                self._prediction = self._prediction.with_progress(report)
                await emit(on_progress, report)
        except DeadlineExceeded:
            raise self._timed_out(poller) from None
        if final.status == TaskStatus.SUCCEEDED:
            return final
        raise self._failure(final, None)

    async def _fetch_result(self, poller: Poller) -> Prediction:
        """Fetch the result once the progress says the task ended, within the deadline.

        Transient failures are waited out like those of polling: the task is done, and a burst
        of 503s must not turn its success into an error.
        """
        progress_status = self._prediction.status
        while True:
            remaining = poller.remaining()
            if remaining <= 0:
                raise DeadlineExceeded
            with anyio.move_on_after(remaining) as scope:
                try:
                    snapshot = await self._predictions.result(self.id)
                except (APIConnectionError, APIError) as exc:
                    if is_transient(exc):
                        await anyio.sleep(poller.retry_pause())
                        continue
                    if not isinstance(exc, APIError) or progress_status == TaskStatus.SUCCEEDED:
                        raise
                    # The progress said "failed" and the result call answered with an error
                    # envelope: that envelope *is* the failure's explanation.
                    raise self._failure(self._prediction, exc) from exc
            if scope.cancelled_caught:
                raise DeadlineExceeded
            return self._merge(snapshot)

    def _merge(self, snapshot: Prediction) -> Prediction:
        """A result snapshot completed with what this handle knew (ids, estimate, message)."""
        merged = attrs.evolve(
            snapshot,
            workflow_id=self._prediction.workflow_id,
            alias_id=self._prediction.alias_id,
            version_id=self._prediction.version_id,
            estimated_duration=self._prediction.estimated_duration,
            created_at=self._prediction.created_at,
            message=self._prediction.message,
            queue_position=None,
        )
        self._prediction = merged
        return merged

    def _failure(self, snapshot: Prediction, cause: APIError | None) -> PredictionFailedError:
        if cause is not None:
            reason = cause.sub_err_message or cause.err_message or cause.message
            code = cause.code
            invoke = cause.api_invoke_id
        else:
            reason = snapshot.message or "the service gave no reason"
            code = None
            invoke = snapshot.api_invoke_id
        final = attrs.evolve(
            snapshot,
            status=snapshot.status if snapshot.status.is_terminal else TaskStatus.FAILED,
            error=reason,
            error_code=code,
            api_invoke_id=invoke,
        )
        self._prediction = final
        details = ", ".join(
            part
            for part in (f"code {code}" if code else "", f"apiInvokeId {invoke}" if invoke else "")
            if part
        )
        return PredictionFailedError(
            f"task {self.id!r} of workflow {final.workflow_id or '?'!r} {final.status}: {reason}"
            + (f" ({details})" if details else ""),
            prediction=final,
            error_code=code,
            api_invoke_id=invoke,
        )
