"""Running workflow tasks: submit, wait and run — what the client, its resources, handles and
batches are facades over.

One :class:`Tasks` per client. Waiting goes through the core's one wait loop
(:class:`~speedpix_async._core.waiting.Waiter`); this module only says how to *look* at a
SpeedPix task (a progress poll — or, when the poll is aimed at the end the server predicted, a
result fetch, which also reports unfinished tasks: one request instead of two) and how to
*finish* (fetch the result once a progress poll says the task ended). A failed task comes back
from the loop as a final snapshot with ``error`` set and is raised here as
:class:`~speedpix_async.PredictionFailedError`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

import attrs

from .._core.handles import Subject, WaitOptions, Waits, keeps_running, timeout_message
from .._core.http import BeforeSend
from .._core.retry import is_worth_waiting_out
from .._core.storage import Storage
from .._core.telemetry import STATUS, TASK, WORKFLOW, active, span
from .._core.waiting import Deadline, Look, Waiter, WaitTimeout
from .._errors import APIError
from .._validate import check_identifier
from ..outputs import output_from_result, structure_output
from .endpoints import Endpoints, PromptRequest
from .errors import PredictionFailedError, PredictionTimeoutError
from .files import Uploader
from .inputs import place_files, walk_inputs
from .models import Prediction, Progress, TaskStatus
from .options import RunOptions, SubmitOptions

__all__ = ["TaskView", "Tasks", "Track", "failed", "submitted_report", "timed_out"]

Track = Callable[[Prediction], None]
"""Told every newer snapshot of a task while it is submitted or waited on."""


def _ignore(snapshot: Prediction) -> None:
    pass


class Tasks:
    """Submitting and waiting on workflow tasks for one client."""

    def __init__(
        self,
        *,
        endpoints: Endpoints,
        uploader: Uploader,
        storage: Storage,
        waits: Waits,
        upload_local_paths: bool,
    ) -> None:
        self.endpoints = endpoints
        self.uploader = uploader
        self.storage = storage
        self.waits = waits
        self.upload_local_paths = upload_local_paths

    def deadline(self, timeout: float | None) -> Deadline:
        """The deadline of a call given ``timeout=`` (None: the poll policy's default)."""
        return self.waits.deadline(timeout)

    # ------------------------------------------------------------------ one request each

    async def result(self, task_id: str) -> Prediction:
        """The task as ``comfy_get_result`` reports it, outputs converted."""
        result, reply = await self.endpoints.result(task_id)
        output = None
        if result.status == TaskStatus.SUCCEEDED:
            output = output_from_result(result, self.storage)
        return Prediction(id=task_id, status=result.status).with_result(
            result, output, reply.api_invoke_id
        )

    # ------------------------------------------------------------------ submit

    async def submit(
        self,
        workflow_id: str,
        input: Any,
        options: SubmitOptions,
        deadline: Deadline,
        *,
        before_send: BeforeSend | None = None,
    ) -> Prediction:
        """Prepare the input (uploading its files) and submit one task, within ``deadline``, in a
        ``speedpix.submit`` span when telemetry is on.

        ``before_send`` is awaited once the input is ready and the connection that carries
        ``comfy_prompt`` is made, just before its bytes go out (a batch journal records the
        submit there: a process killed earlier — during uploads, backend start-up or the
        connect — has sent nothing, and the re-run submits the input)."""
        with span("speedpix.submit", {WORKFLOW: workflow_id}) as current:
            check_identifier("workflow_id", workflow_id)
            walked = walk_inputs(input, upload_local_paths=self.upload_local_paths)
            inputs: dict[str, Any] | None = walked.prepared
            if walked.files:
                # Opening and uploading files takes time: within the deadline. (Inputs without
                # files skip the cancel scope, a measurable cost in a wide fan-out.)
                inputs = None
                with deadline.scope():
                    inputs = await place_files(
                        walked, uploader=self.uploader, strategy=options.file_encoding_strategy
                    )
            if inputs is None:
                raise PredictionTimeoutError(
                    f"the call's deadline ({deadline.timeout:g}s) passed while the input files of "
                    f"workflow {workflow_id!r} were being prepared or uploaded; nothing was "
                    "submitted — pass a larger timeout=",
                    task_id=None,
                    timeout=deadline.timeout,
                )
            request = PromptRequest(
                workflow_id=workflow_id,
                inputs=inputs,
                alias_id=options.alias_id,
                version_id=options.version_id,
                randomise_seeds=options.randomise_seeds,
                return_temp_files=options.return_temp_files,
            )
            created_at = _dt.datetime.now(_dt.timezone.utc)
            submitted, reply = await self.endpoints.submit(
                request,
                resource_config_id=options.resource_config_id,
                deadline=deadline,
                before_send=before_send,
            )
            estimate = submitted.estimated_duration_in_seconds
            prediction = Prediction(
                id=submitted.task_id,
                status=submitted.status,
                workflow_id=workflow_id,
                alias_id=options.alias_id,
                version_id=options.version_id,
                estimated_duration=estimate,
                eta=estimate,
                api_invoke_id=reply.api_invoke_id,
                created_at=created_at,
            )
            if current is not None:
                current.set_attribute(TASK, prediction.id)
            return prediction

    # ------------------------------------------------------------------ wait

    def view(self, snapshot: Prediction, track: Track = _ignore) -> TaskView:
        """A way to look at ``snapshot``'s task that keeps (and reports to ``track``) the
        latest snapshot."""
        return TaskView(self, snapshot, track)

    async def wait(
        self,
        snapshot: Prediction,
        options: WaitOptions[Progress],
        *,
        deadline: Deadline,
        fresh: bool,
        track: Track = _ignore,
        heard_at: float | None = None,
    ) -> Prediction:
        """Wait until the task ends; return its final snapshot (``output`` set) or raise
        :class:`~speedpix_async.PredictionFailedError` /
        :class:`~speedpix_async.PredictionTimeoutError`.

        With ``on_progress`` the wait is watched: the submit's report first (for a fresh task),
        then fresh reports at the watch cadence, then the final one. ``heard_at``: when the
        server last answered about the task (default: now, for a fresh task). In a
        ``speedpix.wait`` span when telemetry is on, which also counts how the task ended."""
        labels = {TASK: snapshot.id, WORKFLOW: snapshot.workflow_id or ""}
        with span("speedpix.wait", labels) as current:
            view = TaskView(self, snapshot, track)
            watched = options.on_progress is not None
            if heard_at is None and fresh:
                heard_at = self.waits.now()
            waiter = view.waiter(
                deadline=deadline,
                fresh=fresh,
                polling_interval=options.polling_interval,
                watched=watched,
                heard_at=heard_at,
            )
            task = snapshot.id
            try:
                with keeps_running(f"task {task!r}", f"client.predictions.wait({task!r})"):
                    if watched and fresh:
                        await waiter.report(options.on_progress, submitted_report(snapshot))
                    final = await waiter.until_done(view.finish, on_report=options.on_progress)
            except WaitTimeout as expired:
                raise timed_out(view.snapshot, deadline, expired) from expired.last_error
            ended(current, final)
            if final.succeeded:
                return final
            raise failed(final)

    # ------------------------------------------------------------------ run

    async def run(
        self, workflow_id: str, input: Any, options: RunOptions, *, track: Track = _ignore
    ) -> Any:
        """Submit, wait and return the (typed) output, all within one deadline."""
        with span("speedpix.run", {WORKFLOW: workflow_id}) as current:
            deadline = self.deadline(options.wait.timeout)
            snapshot = await self.submit(workflow_id, input, options.submit, deadline)
            if current is not None:
                current.set_attribute(TASK, snapshot.id)
            track(snapshot)
            final = await self.wait(
                snapshot, options.wait, deadline=deadline, fresh=True, track=track
            )
            if current is not None:
                current.set_attribute(STATUS, str(final.status))
            return self.typed_output(final, options)

    def typed_output(self, final: Prediction, options: RunOptions) -> Any:
        """A succeeded task's output as ``run`` returns it (structured into ``output_type``)."""
        if options.output_type is None:
            return final.output
        return structure_output(final.output, options.output_type, self.storage)


def _seconds(start: _dt.datetime | None, end: _dt.datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def ended(current: Any, final: Prediction) -> None:
    """Tell telemetry (when on) how a task ended: on the wait's span and in the metrics."""
    telemetry = active()
    if telemetry is None:
        return
    queued = _seconds(final.created_at, final.started_at)
    ran = (
        final.task_duration_ms / 1000.0
        if final.task_duration_ms is not None
        else _seconds(final.started_at, final.completed_at)
    )
    if current is not None:
        current.set_attribute(STATUS, str(final.status))
        if queued is not None:
            current.set_attribute("speedpix.queue_time", queued)
        if ran is not None:
            current.set_attribute("speedpix.run_time", ran)
    telemetry.prediction(
        final.workflow_id,
        str(final.status),
        seconds=_seconds(final.created_at, final.completed_at),
        queued=queued,
    )


class TaskView:
    """How a wait looks at one task, keeping the latest snapshot."""

    def __init__(self, tasks: Tasks, snapshot: Prediction, track: Track) -> None:
        self.tasks = tasks
        self.snapshot = snapshot
        self.track = track

    def waiter(
        self,
        *,
        deadline: Deadline,
        fresh: bool,
        polling_interval: float | None,
        aim_at_result: bool = True,
        watched: bool = False,
        heard_at: float | None = None,
    ) -> Waiter[Prediction]:
        """A wait on this task. ``fresh``: the snapshot carries the submit's estimate (else the
        first look is immediate). ``aim_at_result``: a look aimed at the predicted end fetches
        the result directly (``watch()`` polls progress only). ``watched``: someone watches
        (polls at the watch cadence)."""
        look = self.look if aim_at_result else self.poll_progress
        return self.tasks.waits.waiter(
            look,
            deadline=deadline,
            first_eta=self.snapshot.eta if fresh else None,
            interval=polling_interval,
            watched=watched,
            heard_at=heard_at,
            topic=self.snapshot.workflow_id,
        )

    def _update(self, snapshot: Prediction) -> Prediction:
        self.snapshot = snapshot
        self.track(snapshot)
        return snapshot

    def _merge(self, result: Prediction) -> Prediction:
        """A result snapshot completed with what this wait knew (ids, estimate, message)."""
        known = self.snapshot
        return self._update(
            attrs.evolve(
                result,
                workflow_id=known.workflow_id,
                alias_id=known.alias_id,
                version_id=known.version_id,
                estimated_duration=known.estimated_duration,
                created_at=known.created_at,
                message=known.message,
                queue_position=None,
            )
        )

    def _failure(self, cause: APIError | None) -> Prediction:
        """The current snapshot as a failure, explained by ``cause`` (an error envelope) or by
        the server's last message."""
        snapshot = self.snapshot
        if cause is not None:
            reason = cause.sub_err_message or cause.err_message or cause.message
            code, invoke = cause.code, cause.api_invoke_id
        else:
            reason = snapshot.message or "the service gave no reason"
            code, invoke = snapshot.error_code, snapshot.api_invoke_id
        return self._update(
            attrs.evolve(
                snapshot,
                status=snapshot.status if snapshot.status.is_terminal else TaskStatus.FAILED,
                error=reason,
                error_code=code,
                api_invoke_id=invoke,
            )
        )

    async def poll_progress(self, aimed: bool = False) -> Look[Prediction]:
        report = await self.tasks.endpoints.progress(self.snapshot.id)
        self._update(self.snapshot.with_progress(report))
        return Look(report=report, done=report.status.is_terminal, eta=report.eta)

    async def look(self, aimed: bool) -> Look[Prediction]:
        """One poll. Aimed at the predicted end, it asks for the result straight away."""
        if not aimed:
            return await self.poll_progress()
        try:
            result = await self.tasks.result(self.snapshot.id)
        except APIError as exc:
            if is_worth_waiting_out(exc):
                raise
            # An error answer: maybe the failure of this very task (an undocumented
            # vocabulary), maybe something else. The progress endpoint says which; if the task
            # failed, this envelope is the explanation.
            polled = await self.poll_progress()
            if polled.done and self.snapshot.status != TaskStatus.SUCCEEDED:
                return attrs.evolve(polled, final=self._failure(exc))
            return polled
        if result.status == TaskStatus.SUCCEEDED:
            final = self._merge(result)
            report = Progress(
                task_id=final.id,
                status=final.status,
                progress=1.0,
                eta=0.0,
                queue_position=0,
                # Not the last progress text ("running …"): the task has finished.
                message="succeeded",
            )
            return Look(report=report, done=True, final=final)
        if result.status.is_terminal:
            # Failed inside a successful envelope: the progress report carries the reason.
            polled = await self.poll_progress()
            self._merge(result)
            return attrs.evolve(polled, done=True, final=self._failure(None))
        report = Progress(
            task_id=self.snapshot.id, status=result.status, progress=self.snapshot.progress
        )
        return Look(report=report, done=False)

    async def finish(self, look: Look[Prediction]) -> Prediction | None:
        """The final snapshot once a progress poll said the task ended (None: the result says
        it has not, after all — keep waiting)."""
        ended_as = self.snapshot.status
        try:
            result = await self.tasks.result(self.snapshot.id)
        except APIError as exc:
            if is_worth_waiting_out(exc) or ended_as == TaskStatus.SUCCEEDED:
                raise
            # The progress said "failed" and the result call answered with an error envelope:
            # that envelope *is* the failure's explanation.
            return self._failure(exc)
        final = self._merge(result)
        if not final.status.is_terminal:
            return None
        if final.status == TaskStatus.SUCCEEDED:
            return final
        return self._failure(None)


def submitted_report(snapshot: Prediction) -> Progress:
    """What the submit's answer said, as the first report of a watched wait: the status and
    the server's estimate of the duration (``estimatedDurationInSeconds``)."""
    return Progress(
        task_id=snapshot.id,
        status=snapshot.status,
        eta=snapshot.estimated_duration,
        message="submitted",
    )


def failed(final: Prediction) -> PredictionFailedError:
    """The error for a task that ended without succeeding."""
    code, invoke = final.error_code, final.api_invoke_id
    details = ", ".join(
        part
        for part in (f"code {code}" if code else "", f"apiInvokeId {invoke}" if invoke else "")
        if part
    )
    return PredictionFailedError(
        f"task {final.id!r} of workflow {final.workflow_id or '?'!r} {final.status}: "
        f"{final.error or 'the service gave no reason'}" + (f" ({details})" if details else ""),
        prediction=final,
        error_code=code,
        api_invoke_id=invoke,
    )


def timed_out(
    snapshot: Prediction, deadline: Deadline, expired: WaitTimeout
) -> PredictionTimeoutError:
    """The error for a wait whose deadline passed, naming the server if it stopped answering."""
    subject = Subject(
        name=f"task {snapshot.id!r}",
        state=str(snapshot.status),
        resume=f"client.predictions.wait({snapshot.id!r})",
    )
    return PredictionTimeoutError(
        timeout_message(subject, deadline, expired),
        task_id=snapshot.id,
        timeout=deadline.timeout,
        prediction=snapshot,
        server_unreachable=expired.last_error is not None,
    )
