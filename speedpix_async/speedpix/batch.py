"""``client.run_many()``: bounded-concurrency fan-out, results in completion order.

A feeder pulls inputs lazily — one only when a slot is free, so a generator of 100 000 inputs is
never materialised — and starts one worker per input; at most ``concurrency`` workers exist. A
worker runs the prediction to the end and hands over a :class:`BatchResult`; its slot frees only
once the consumer has taken the result, so a slow consumer slows submission instead of piling up
results. A failure is a value (``result.error``): one bad input never loses the others. When the
caller's input iterator itself raises, the predictions already started still finish and their
results are delivered; then its exception is raised, as itself. An input that *is* an
exception instance (a reader that could not parse one line puts the error in its place) is not
sent: it comes back as that input's ``error``.

With ``journal=path`` every input's submit, task id and end are recorded durably first (see
:mod:`speedpix_async.speedpix.journal`): a re-run after a crash replays finished results, resumes
known tasks by id and never re-submits an input whose submit may have reached the server.
``shard=(I, N)`` takes every N-th input starting at the I-th, keeping the inputs' own indices.

Concurrency hazards, and the rules that keep them away:

* The task group lives inside an async generator. That is only sound when the generator is
  consumed — and closed — by one task: exhaust it, use ``async with client.run_many(...) as
  results:``, or cancel the consuming task (which cancels every worker). The blocking wrapper
  drives it from a single task for the same reason.
* Every prediction shares the client's connection pool (a prediction holds a connection only
  for its few short requests), and submits are paced (:data:`SUBMITS_IN_FLIGHT`) so the polls of
  running predictions never queue behind a burst of them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sized
from types import TracebackType
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from .._core.concurrency import BaseExceptionGroup, Workers, first_exception
from .._core.journal import open_journal
from .._errors import InputError
from .._validate import check_identifier
from .errors import PredictionFailedError, SubmitOutcomeUnknownError
from .journal import BatchJournal, fingerprint, header, replay
from .models import BatchResult, Prediction, TaskStatus
from .options import RunOptions
from .tasks import Tasks, Track, failed

__all__ = ["MAX_CONCURRENCY", "AsyncBatch", "BatchInputs", "check_shard"]

#: The most predictions one ``run_many`` runs at once. Each costs a few KiB, not a connection
#: (they share the client's pool), but beyond this a batch spends its time queueing: run
#: several, or shard the inputs across machines.
MAX_CONCURRENCY = 10_000

#: Submits (with their uploads) in flight at once in one batch: enough to keep the client's
#: pool busy, few enough that the polls of running predictions never queue behind a burst.
SUBMITS_IN_FLIGHT = 16

BatchInputs = Iterable[Any] | AsyncIterable[Any]


async def _each(inputs: BatchInputs) -> AsyncIterator[Any]:
    if isinstance(inputs, AsyncIterable):
        async for item in inputs:
            yield item
    else:
        for item in inputs:
            yield item


class AsyncBatch:
    """The predictions of one ``run_many`` call. Iterate it with ``async for``; or use
    ``async with ... as results`` to be able to stop early cleanly."""

    def __init__(
        self,
        workflow_id: str,
        inputs: BatchInputs,
        options: RunOptions,
        *,
        concurrency: int,
        tasks: Tasks,
        journal: str | os.PathLike[str] | None = None,
        resubmit_unknown: bool = False,
        shard: tuple[int, int] | None = None,
    ) -> None:
        check_identifier("workflow_id", workflow_id)
        self._shard = check_shard(shard)
        if journal is not None and not isinstance(journal, (str, os.PathLike)):
            raise InputError(f"journal must be a file path, got {type(journal).__name__}")
        self._journal_path = journal
        self._journal: BatchJournal | None = None
        self._resubmit_unknown = bool(resubmit_unknown)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InputError(f"concurrency must be an int >= 1, got {concurrency!r}")
        if concurrency > MAX_CONCURRENCY:
            raise InputError(
                f"concurrency must be at most {MAX_CONCURRENCY:,}, got {concurrency:,}; run "
                "several batches, or shard the inputs across machines (shard=)"
            )
        if not isinstance(inputs, (Iterable, AsyncIterable)) or isinstance(
            inputs, (str, bytes, dict)
        ):
            raise InputError(
                "inputs must be an iterable (list, generator, async iterator) of input dicts, "
                f"one per prediction; got {type(inputs).__name__}"
            )
        self._workflow_id = workflow_id
        self._inputs = inputs
        self._options = options
        if isinstance(inputs, Sized):
            # A list of 3 inputs needs 3 slots and connections, not ``concurrency``.
            mine = len(inputs) if shard is None else -(-len(inputs) // self._shard[1])
            concurrency = max(1, min(concurrency, mine))
        self.concurrency = concurrency
        """Predictions run at once: the ``concurrency`` asked for, or fewer when fewer inputs
        were given."""
        self._tasks = tasks
        self._iterator: AsyncIterator[BatchResult] | None = None
        self._waiting: set[str] = set()

    def __aiter__(self) -> AsyncIterator[BatchResult]:
        return self._results()

    async def __aenter__(self) -> AsyncIterator[BatchResult]:
        # The journal is opened, locked and checked here, before the caller writes anything
        # (the command line creates its results file only after this), and before anything
        # is sent.
        await self._ensure_journal()
        self._iterator = self._results()
        return self._iterator

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._iterator is not None:
            # Closing the generator here, in the task that iterated it, exits its task group
            # properly: unfinished predictions are cancelled (the server tasks run on).
            await self._iterator.aclose()  # type: ignore[attr-defined]
        elif self._journal is not None:
            self._journal.close()

    @property
    def still_running(self) -> list[str]:
        """The ids of the tasks this batch was waiting on and did not see end — after an
        interruption, those keep running on the server (a re-run with the journal resumes
        them by id)."""
        return sorted(self._waiting)

    @property
    def journal(self) -> BatchJournal | None:
        """The batch's open journal (``journal=``), once ``async with`` has entered (or
        iteration has begun); None without one."""
        return self._journal

    async def _ensure_journal(self) -> BatchJournal | None:
        if self._journal is None and self._journal_path is not None:
            self._journal = await anyio.to_thread.run_sync(self._open_journal)
        return self._journal

    def _open_journal(self) -> BatchJournal:
        assert self._journal_path is not None
        options = self._options.submit
        shard = self._shard
        identity = {
            "alias_id": options.alias_id,
            "version_id": options.version_id,
            "shard": None if shard == (1, 1) else f"{shard[0]}/{shard[1]}",
        }
        expected = header(self._workflow_id, identity)
        opened = open_journal(self._journal_path, expected)
        try:
            return BatchJournal(opened, expected)
        except BaseException:
            opened.journal.close()
            raise

    async def _results(self) -> AsyncIterator[BatchResult]:
        # Opened (and checked) before anything is sent; closed when the batch ends however.
        journal = await self._ensure_journal()
        # Submits are paced: a burst of thousands would queue for connections ahead of the
        # polls of the predictions already running, and those would come back late.
        # (fast_acquire: a free permit is taken without a checkpoint — the submit behind it
        # yields at once anyway; a checkpoint is two cancel scopes' worth of CPU per prediction.)
        self._submitting = anyio.Semaphore(SUBMITS_IN_FLIGHT, fast_acquire=True)
        # Zero buffer: a worker's send completes only when the consumer takes the result, and
        # only then does its slot free — in flight (running or handing over) <= concurrency.
        send, receive = anyio.create_memory_object_stream[BatchResult](0)
        outbox = _Outbox(send)
        slots = anyio.Semaphore(self.concurrency)
        broken: list[BaseException] = []
        try:
            async with anyio.create_task_group() as group:
                workers = Workers(group)
                group.start_soon(self._feed, workers, outbox, slots, broken)
                async with receive:
                    finished = False
                    try:
                        async for result in receive:
                            yield result
                        finished = True
                    except GeneratorExit:
                        # The consumer closed us early. Re-raising inside the task group
                        # would come out wrapped in an ExceptionGroup; cancel the workers
                        # and leave quietly instead.
                        group.cancel_scope.cancel()
                        return
                    finally:
                        # Every worker has ended — cancelled unless all results were
                        # delivered — before the results stream closes (a worker still
                        # running would find it broken); a worker's failure is raised here.
                        # A worker cancelled before its first step never closed its share.
                        try:
                            await workers.close(cancel=not finished)
                        finally:
                            send.close()
        except BaseExceptionGroup as exc:
            raise first_exception(exc) from None
        finally:
            if journal is not None:
                journal.close()
        if broken:
            # Everything submitted before the iterator broke has been delivered above.
            raise broken[0]

    async def _feed(
        self,
        workers: Workers,
        outbox: _Outbox,
        slots: anyio.Semaphore,
        broken: list[BaseException],
    ) -> None:
        items = _each(self._inputs)
        try:
            index = -1
            shard, shards = self._shard
            while True:
                # A slot first, then the input: nothing is pulled before there is room.
                await slots.acquire()
                try:
                    item = await items.__anext__()
                    index += 1
                    while index % shards != shard - 1:
                        item = await items.__anext__()
                        index += 1
                except StopAsyncIteration:
                    slots.release()
                    return
                except Exception as exc:
                    # The caller's iterator broke: stop feeding, but let the predictions
                    # already started finish and deliver; _results raises it afterwards.
                    slots.release()
                    _note(
                        exc,
                        f"run_many: the inputs iterator raised after {index + 1} inputs; "
                        "the results of those were delivered first",
                    )
                    broken.append(exc)
                    return
                outbox.opened()
                workers.start(self._work, index, item, outbox, slots)
        finally:
            try:
                # Close the caller's iterator (its cleanup runs) even when we are cancelled.
                with anyio.CancelScope(shield=True):
                    await items.aclose()  # type: ignore[attr-defined]
            finally:
                outbox.closed()

    async def _work(self, index: int, item: Any, outbox: _Outbox, slots: anyio.Semaphore) -> None:
        """Run input ``index`` to its end and hand over its result (a failure is a value).
        One coroutine for both: every waiting prediction holds each frame of its chain."""
        latest = _Latest()
        try:
            try:
                final = await self._final(index, item, latest)
                if not final.succeeded:  # only a failure replayed from the journal returns here
                    raise failed(final)
                output = self._tasks.typed_output(final, self._options)
            except Exception as exc:
                prediction = getattr(exc, "prediction", None)
                if prediction is None:
                    prediction = latest.snapshot
                result = BatchResult(index=index, input=item, error=exc, prediction=prediction)
            else:
                result = BatchResult(index=index, input=item, output=output, prediction=final)
            await outbox.send.send(result)
        finally:
            slots.release()
            outbox.closed()

    async def _final(self, index: int, item: Any, track: Track) -> Prediction:
        """Input ``index``'s task, run (or resumed, or replayed from the journal) to its end."""
        if isinstance(item, Exception):
            # A reader could not make this input (a bad line): it is this input's error, and
            # nothing is sent or journaled for it.
            raise item
        journal = self._journal
        entry = digest = None
        if journal is not None:
            digest = fingerprint(item)
            entry = journal.entry(index)
            if entry is not None and entry.fingerprint != digest:
                raise InputError(
                    f"input {index} differs from the input the journal {journal.path!r} "
                    "recorded for it; nothing was sent for it — run with the inputs the journal "
                    "was written for, or give a new journal path"
                )
        options = self._options
        tasks = self._tasks
        deadline = tasks.deadline(options.wait.timeout)
        if entry is not None and entry.end is not None:
            final = replay(entry, tasks.storage)
            track(final)
            return final
        if entry is not None and entry.task_id is not None:
            snapshot = Prediction(
                id=entry.task_id,
                status=TaskStatus.WAITING,
                workflow_id=self._workflow_id,
                alias_id=options.submit.alias_id,
                version_id=options.submit.version_id,
            )
            fresh = False
        elif entry is not None and not self._resubmit_unknown:
            raise SubmitOutcomeUnknownError(
                f"input {index} was being submitted when an earlier run stopped, before the "
                "answer came back: its task may or may not exist, and the API cannot list tasks "
                "to check. It was not submitted again; pass resubmit_unknown=True "
                "(--resubmit-unknown) to submit it again, accepting a possible duplicate",
                workflow_id=self._workflow_id,
                alias_id=options.submit.alias_id,
                version_id=options.submit.version_id,
            )
        else:
            before_send = None
            if journal is not None and digest is not None:
                before_send = functools.partial(journal.submitting, index, digest)
            try:
                async with self._submitting:
                    snapshot = await tasks.submit(
                        self._workflow_id, item, options.submit, deadline, before_send=before_send
                    )
            except SubmitOutcomeUnknownError:
                raise  # the submit record stays open: the next run reports it as unknown
            except Exception:
                if journal is not None:
                    # A definite answer (or no send at all): no task exists, a re-run may retry.
                    await journal.rejected(index)
                raise
            if journal is not None and digest is not None:
                await journal.submitted(index, digest, snapshot.id)
            fresh = True
        track(snapshot)
        self._waiting.add(snapshot.id)
        try:
            final = await tasks.wait(
                snapshot, options.wait, deadline=deadline, fresh=fresh, track=track
            )
        except anyio.get_cancelled_exc_class():
            raise  # abandoned: the task runs on (still_running says so)
        except PredictionFailedError as exc:
            self._waiting.discard(snapshot.id)
            if journal is not None:
                await journal.ended(index, exc.prediction)
            raise
        except BaseException:
            self._waiting.discard(snapshot.id)
            raise
        self._waiting.discard(snapshot.id)
        if journal is not None:
            await journal.ended(index, final)
        return final


class _Outbox:
    """The sending end of one batch's results, shared by the feeder and its workers: it
    closes — ending the consumer's loop — when the last of them finishes. (A clone of the
    stream per worker did the same, with two more objects per waiting prediction.)"""

    __slots__ = ("_open", "send")

    def __init__(self, send: MemoryObjectSendStream[BatchResult]) -> None:
        self.send = send
        self._open = 1  # the feeder's share

    def opened(self) -> None:
        """One more worker shares the stream (counted before it starts)."""
        self._open += 1

    def closed(self) -> None:
        """The feeder or a worker is done with the stream."""
        self._open -= 1
        if self._open == 0:
            self.send.close()


class _Latest:
    """Keeps the newest snapshot of one input's task (a :data:`~.tasks.Track`), for the result
    of a failure that carries none. One object: a closure over a list was four, per waiting
    prediction, for the garbage collector to walk."""

    __slots__ = ("snapshot",)

    def __init__(self) -> None:
        self.snapshot: Prediction | None = None

    def __call__(self, snapshot: Prediction) -> None:
        self.snapshot = snapshot


def check_shard(shard: Any) -> tuple[int, int]:
    """``(I, N)``: this process runs inputs I, I+N, I+2N… (1-based I, as ``--shard I/N``)."""
    if shard is None:
        return (1, 1)
    if (
        isinstance(shard, tuple)
        and len(shard) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
        and 1 <= shard[0] <= shard[1]
    ):
        return (shard[0], shard[1])
    raise InputError(
        f"shard must be (I, N) with 1 <= I <= N — this process takes every N-th input starting "
        f"at the I-th — got {shard!r}"
    )


def _note(exc: BaseException, note: str) -> None:
    add_note = getattr(exc, "add_note", None)  # Python 3.11+
    if add_note is not None:
        add_note(note)
