"""``AsyncSpeedPix``: configuration, the parts of one client, and ``run``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from .._core.client import AsyncServiceClient, ClientKeywords, policy_options
from .._core.handles import Waits
from .._core.storage import Storage
from .._core.transport import Transport
from .._errors import InputError
from .._signing import GatewaySigner
from .config import ClientConfig, resolve_config, urlsplit_path
from .endpoints import Endpoints
from .files import AsyncFiles, Uploader
from .options import RunKeywords, RunOptions
from .predictions import AsyncPredictionHandle, AsyncPredictions
from .profile import SpeedPixProfile
from .tasks import Tasks

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .batch import AsyncBatch, BatchInputs

__all__ = ["AsyncSpeedPix"]

T = TypeVar("T")


def _tasks(config: ClientConfig, transport: Transport) -> Tasks:
    """The parts of a client around ``transport``, each given what it needs."""
    storage = Storage(
        backend=transport.backend,
        retry=config.retry,
        timeout=config.timeout,
        user_agent=config.user_agent,
        check_open=transport.check_open,
    )
    endpoints = Endpoints(transport)
    return Tasks(
        endpoints=endpoints,
        uploader=Uploader(endpoints, storage),
        storage=storage,
        waits=Waits(config.poll),
        upload_local_paths=config.upload_local_paths,
    )


class AsyncSpeedPix(AsyncServiceClient[ClientConfig]):
    """Asynchronous SpeedPix (智作工坊) client.

    Credentials come from ``app_key`` / ``app_secret`` or, when neither is passed, from the
    ``SPEEDPIX_APP_KEY`` / ``SPEEDPIX_APP_SECRET`` environment variables; the endpoint from
    ``endpoint`` or ``SPEEDPIX_ENDPOINT`` (default ``https://openai.edu-aliyun.com``).

    Use it with ``async with``, or call :meth:`aclose` when done::

        async with AsyncSpeedPix() as client:
            output = await client.run("wf-white-background", input={...})

    :param upload_local_paths: whether a plain string that names a local media file is uploaded
        (``True``, the guides' behaviour) or always sent as text (``False``, for servers that pass
        untrusted text into inputs).
    :param options: what every client takes (:class:`~speedpix_async.ClientKeywords`):
        ``timeout`` (per request; default 30 s), ``max_retries`` (default 4; a submit is retried
        only when the failure proves no task was created), ``user_agent``, ``http_client`` /
        ``transport`` (httpx objects to use, e.g. ``httpx.ASGITransport(app=emulator_app)``),
        ``http_backend`` (``"auto"``, the default: native on asyncio unless httpx objects or
        mocks are in play; ``"httpx"``; ``"native"``; ``"aiohttp"``), ``retry_policy``,
        ``poll_policy``.
    """

    predictions: AsyncPredictions
    """Tasks: ``create``, ``get``, ``result``, ``wait``, ``handle``."""
    files: AsyncFiles
    """Uploads (``create``) and downloads (``from_url``)."""

    def __init__(
        self,
        app_key: str | None = None,
        app_secret: str | None = None,
        *,
        endpoint: str | None = None,
        upload_local_paths: bool = True,
        **options: Unpack[ClientKeywords],
    ) -> None:
        config = resolve_config(
            app_key=app_key,
            app_secret=app_secret,
            endpoint=endpoint,
            upload_local_paths=upload_local_paths,
            **policy_options(options, "AsyncSpeedPix()"),
        )
        self._start(config, options)

    def _profile(self, config: ClientConfig) -> SpeedPixProfile:
        return SpeedPixProfile(GatewaySigner(config.app_key, config.app_secret))

    def _address(self, config: ClientConfig) -> tuple[str, str]:
        # The gateway signs the full request path, including any prefix in the endpoint.
        return config.endpoint, urlsplit_path(config.endpoint)

    def _build(self) -> None:
        self._tasks = _tasks(self._config, self._transport)
        self.predictions = AsyncPredictions(self._tasks)
        self.files = AsyncFiles(self._tasks.uploader, self._tasks.storage)

    def __repr__(self) -> str:
        return (
            f"AsyncSpeedPix(endpoint={self._config.endpoint!r}, app_key={self._config.app_key!r})"
        )

    @property
    def endpoint(self) -> str:
        """The base URL requests go to."""
        return self._config.endpoint

    @property
    def app_key(self) -> str:
        """The app key (an identifier, not a secret; the secret is never exposed)."""
        return self._config.app_key

    @overload
    async def run(
        self,
        workflow_id: str,
        input: dict[str, Any] | None = None,
        *,
        wait: Literal[True] = True,
        output_type: None = None,
        **options: Unpack[RunKeywords],
    ) -> Any: ...

    @overload
    async def run(
        self,
        workflow_id: str,
        input: dict[str, Any] | None = None,
        *,
        wait: Literal[True] = True,
        output_type: type[T],
        **options: Unpack[RunKeywords],
    ) -> T: ...

    @overload
    async def run(
        self,
        workflow_id: str,
        input: dict[str, Any] | None = None,
        *,
        wait: Literal[False],
        output_type: None = None,
        **options: Unpack[RunKeywords],
    ) -> AsyncPredictionHandle: ...

    @overload
    async def run(
        self,
        workflow_id: str,
        input: dict[str, Any] | None = None,
        *,
        wait: bool = True,
        output_type: type[Any] | None = None,
        **options: Unpack[RunKeywords],
    ) -> Any: ...

    async def run(
        self,
        workflow_id: str,
        input: dict[str, Any] | None = None,
        *,
        wait: bool = True,
        output_type: type[Any] | None = None,
        **options: Unpack[RunKeywords],
    ) -> Any:
        """Run a published workflow and return its output.

        Submits the task, polls until it ends and returns the workflow's outputs: the custom
        output fields configured at publish time, e.g. ``output["images"]["url"]``, where every
        URL is a :class:`~speedpix_async.FileOutput` you can ``await .save(path)``. With
        ``output_type=`` (an attrs class or dataclass, or e.g. ``list[ImageFile]``) the output
        is structured into that type, file fields into :class:`~speedpix_async.ImageFile` & co.;
        a mismatch raises :class:`~speedpix_async.ResponseValidationError` naming the field.
        With ``wait=False`` returns the prediction handle right after submitting.

        ``options`` (:class:`~speedpix_async.RunKeywords`): ``alias_id`` / ``version_id``,
        ``randomise_seeds``, ``return_temp_files``, ``resource_config_id``,
        ``file_encoding_strategy`` (see ``predictions.create``), ``on_progress``,
        ``polling_interval`` and ``timeout`` (seconds; default 30 minutes), which bounds the
        whole call: uploading local files in ``input``, the submit, every poll, the result
        fetch and awaited ``on_progress`` callbacks.

        Raises :class:`~speedpix_async.PredictionFailedError` when the task fails,
        :class:`~speedpix_async.PredictionTimeoutError` when the deadline passes (when a task
        exists it keeps running; resume with ``client.predictions.wait(err.task_id)``) and
        :class:`~speedpix_async.SubmitOutcomeUnknownError` when the submit's answer was lost.
        """
        if not isinstance(wait, bool):
            raise InputError(f"wait must be True or False, got {wait!r}")
        run = RunOptions.of(options, output_type=output_type, call="run()")
        tasks = self._tasks
        if wait:
            return await tasks.run(workflow_id, input, run)
        snapshot = await tasks.submit(
            workflow_id, input, run.submit, tasks.deadline(run.wait.timeout)
        )
        return AsyncPredictionHandle(snapshot, tasks=tasks, fresh=True)

    def run_many(
        self,
        workflow_id: str,
        inputs: BatchInputs,
        *,
        concurrency: int = 8,
        output_type: type[Any] | None = None,
        journal: str | os.PathLike[str] | None = None,
        resubmit_unknown: bool = False,
        shard: tuple[int, int] | None = None,
        **options: Unpack[RunKeywords],
    ) -> AsyncBatch:
        """Run ``workflow_id`` once per input, ``concurrency`` at a time, yielding a
        :class:`~speedpix_async.BatchResult` per input as each finishes::

            async for result in client.run_many("wf-id", ({"prompt": p} for p in prompts)):
                print(result.index, result.output if result.ok else result.error)

        ``inputs`` (an iterable or async iterable) is consumed lazily. A failed prediction is
        a result with ``error`` set (its ``prediction`` too, when a task was created): one
        failure never loses the others. The other options are those of :meth:`run`; ``timeout``
        applies to each prediction. To stop early, iterate inside ``async with
        client.run_many(...) as results:``, or cancel the consuming task: unfinished predictions
        stop being awaited (their server tasks run on — the API cannot cancel them).

        ``journal=path`` makes the batch survive a crash: each input's submit, task id and
        final result are written to that file (fsync'd) before the batch relies on them. Run the
        same batch again with the same inputs and journal after the process died — even by
        ``kill -9`` — and nothing is submitted twice: finished results come back from the
        journal without a request, known tasks are waited on by id, and an input whose submit
        was on the wire when the process died yields
        :class:`~speedpix_async.SubmitOutcomeUnknownError` (``resubmit_unknown=True`` submits
        it again, accepting a possible duplicate). ``shard=(I, N)`` runs only inputs I, I+N,
        I+2N… (1-based I) so N processes share one inputs list; give each its own journal.
        """
        # Imported here: the batch machinery (journal, sharding) costs start-up time that a
        # program which never runs a batch should not pay.
        from .batch import AsyncBatch

        return AsyncBatch(
            workflow_id,
            inputs,
            RunOptions.of(options, output_type=output_type, call="run_many()"),
            concurrency=concurrency,
            tasks=self._tasks,
            journal=journal,
            resubmit_unknown=resubmit_unknown,
            shard=shard,
        )
