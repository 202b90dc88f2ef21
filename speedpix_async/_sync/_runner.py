"""Running async code for blocking callers (docs/architecture.md, "The blocking twin").
Hand-written; the wrappers in ``_generated.py`` call into it with one line per method.

One :class:`Runner` per blocking client owns an event loop in a named daemon thread, reached
through an anyio :class:`~anyio.from_thread.BlockingPortal`. The hazards this file exists for:

* **Cancellation belongs to the caller.** Each call is a task on the portal's loop
  (``run_coroutine_threadsafe``); if anything is raised while the caller waits —
  ``KeyboardInterrupt`` included — the task is cancelled and we wait (briefly) until it has
  unwound, so nothing keeps running, or polling, behind the caller's back.
* **The loop thread must never block on itself.** A call made *from* the portal thread (say, a
  blocking call inside an ``on_progress`` callback) would wait for a task that can only run
  once the thread is free again — a deadlock. It is refused with a clear error instead.
* **A forked child must not touch the parent's loop.** The thread does not exist in the child;
  using the client there raises, telling the user to create a new client.
* **Async iteration happens in one task.** An async generator (possibly holding a task group,
  like ``run_many``) is driven entirely by a single portal task that hands items over through a
  zero-buffer memory stream; stopping early cancels that task, so the generator is closed in the
  task that opened it.
* **Closing under callers' feet.** ``close()`` from one thread while others wait on calls
  cancels those calls on the loop and waits until they have unwound *before* the async client
  closes its pool (no socket is left open behind a half-finished request); the waiting callers
  get a :class:`ClientClosedError`, never a bare ``CancelledError``.
* **Lifetimes.** The portal thread never references the Runner, so a Runner nobody references
  is garbage-collected and its finalizer stops the thread and closes the async client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import itertools
import logging
import os
import threading
import warnings
import weakref
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypeVar

import anyio
import attrs
from anyio.from_thread import BlockingPortal

from .._core.concurrency import asyncio_loop
from .._core.handles import RUNNING, Running
from .._errors import ClientClosedError, ConfigurationError
from ..speedpix.models import TaskStatus

__all__ = [
    "BlockingIterator",
    "Runner",
    "SyncInAsyncWarning",
    "register_twin",
]

T = TypeVar("T")
P = ParamSpec("P")

log = logging.getLogger("speedpix_async")

#: Seconds to wait for a cancelled call to unwind before giving control back to the caller.
CANCEL_GRACE = 5.0
#: Seconds ``close()`` waits for the loop thread to finish.
CLOSE_TIMEOUT = 10.0

_counter = itertools.count(1)
#: Types that can never contain an async object: converted as themselves, without a walk.
_ATOMIC = frozenset({str, int, float, bool, bytes, TaskStatus})
_twins: dict[type, Callable[[Any, Runner], Any]] = {}


class SyncInAsyncWarning(RuntimeWarning):
    """A blocking client was called while an event loop runs in the calling thread."""


def register_twin(async_type: type, twin: Callable[[Any, Runner], Any]) -> None:
    """Teach :meth:`Runner.convert` to turn an ``async_type`` object into ``twin(obj, runner)``
    (exact type: a twin is registered for each async class)."""
    _twins[async_type] = twin


class _Calls:
    """The calls in flight on one loop, shared between the Runner and the loop thread's
    shutdown (which must not reference the Runner, see "Lifetimes")."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closing = False

    def track(self) -> Callable[[], None]:
        """Count the current task (on the loop thread) among the calls to cancel on close;
        returns the function that stops counting it."""
        task = asyncio.current_task()
        assert task is not None
        if self.closing:
            task.cancel()
        self.tasks.add(task)
        return lambda: self.tasks.discard(task)

    async def drain(self) -> None:
        """Cancel every call still running and wait until each has unwound (its ``finally``
        blocks, and so its connections, done) — run on the loop before the clients close."""
        self.closing = True
        # Calls submitted just before close() have their first step queued ahead of this one;
        # one more turn lets them register so they are cancelled too.
        await asyncio.sleep(0)
        running = list(self.tasks)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=CANCEL_GRACE)


class _PortalThread:
    """A daemon thread running an event loop that serves a BlockingPortal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.portal: BlockingPortal | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            anyio.run(self._serve)
        except BaseException as exc:  # pragma: no cover - startup failures only
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        async with BlockingPortal() as portal:
            self.portal = portal
            self.loop = asyncio.get_running_loop()
            self._ready.set()
            await portal.sleep_until_stopped()

    def shutdown(self, closers: tuple[Callable[[], Awaitable[None]], ...]) -> None:
        """Close the async clients, stop the loop and (unless we are it) join the thread."""
        portal = self.portal
        if portal is None or not self.thread.is_alive():
            return
        on_loop_thread = threading.current_thread() is self.thread
        if on_loop_thread:
            # Called from the loop itself (a finalizer run by the GC on this thread): schedule,
            # never wait on ourselves.
            for closer in closers:
                portal.start_task_soon(closer)
            portal.start_task_soon(portal.stop, False)
            return
        for closer in closers:
            # Closing goes on whatever happens: the pool is being discarded anyway.
            with contextlib.suppress(Exception):
                portal.call(closer)
        with contextlib.suppress(Exception):
            portal.call(portal.stop, False)
        self.thread.join(CLOSE_TIMEOUT)


class Runner:
    """Runs coroutines for one blocking client; see the module docstring for the rules."""

    def __init__(self, label: str = "client") -> None:
        self._label = label
        self._lock = threading.Lock()
        self._thread: _PortalThread | None = None
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._calls = _Calls()
        self._closed = False
        self._pid = os.getpid()
        self._warned = False
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._thread else "idle")
        return f"<Runner {self._label} {state}>"

    # ------------------------------------------------------------------ lifecycle

    def manage(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` (an async client's ``aclose``) when this runner closes."""
        self._closers.append(closer)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def thread(self) -> threading.Thread | None:
        """The loop thread, once started."""
        return None if self._thread is None else self._thread.thread

    def close(self) -> None:
        """Close the managed async clients and stop the loop thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            finalizer = self._finalizer
        if finalizer is not None:
            finalizer()  # runs _PortalThread.shutdown exactly once
        elif self._closers and os.getpid() == self._pid:
            # Never started: the clients opened no connection; close them on a short-lived loop
            # so their pools are released just the same.
            closers = tuple(self._closers)

            async def close_all() -> None:
                for closer in closers:
                    await closer()

            _run_in_fresh_thread(close_all)

    # ------------------------------------------------------------------ checks and portal

    def portal(self) -> BlockingPortal:
        """The loop thread's portal, started on first use (after the usual checks)."""
        portal = self._started().portal
        assert portal is not None
        return portal

    def _started(self) -> _PortalThread:
        if os.getpid() != self._pid:
            raise ConfigurationError(
                f"this blocking {self._label} was created in process {self._pid} and cannot be "
                "used after fork(); create a new client in the child process"
            )
        if self._closed:
            raise ClientClosedError(
                f"this {self._label} is closed; create a new one (or keep using it inside its "
                "'with' block)"
            )
        thread = self._thread
        if thread is not None and threading.current_thread() is thread.thread:
            raise ConfigurationError(
                f"a blocking {self._label} method was called from the client's own event-loop "
                "thread (for example inside an on_progress callback); that would deadlock — do "
                "the work after the call returns, or use the async client there"
            )
        if not self._warned and asyncio_loop() is not None:
            self._warned = True
            warnings.warn(
                f"a blocking {self._label} is being used inside a running event loop (Jupyter, "
                "or sync code called from async code); it works, but blocks the loop — use "
                "the async client (AsyncSpeedPix, AsyncPortrait) with 'await' there instead",
                SyncInAsyncWarning,
                stacklevel=4,
            )
        if thread is None:
            with self._lock:
                if self._closed:
                    raise ClientClosedError(f"this {self._label} is closed; create a new one")
                if self._thread is None:
                    self._thread = _PortalThread(f"speedpix-portal-{next(_counter)}")
                    closers = (self._calls.drain, *self._closers)
                    self._finalizer = weakref.finalize(
                        self, _PortalThread.shutdown, self._thread, closers
                    )
                thread = self._thread
        assert thread.portal is not None
        return thread

    # ------------------------------------------------------------------ calling

    def run(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop thread and return its result as it is.

        Anything raised while waiting (``KeyboardInterrupt`` included) cancels the task.
        """
        started = self._started()
        # Held until the task has fully unwound; a plain Lock is far cheaper per call than an
        # Event, and only a cancelled call ever waits on it.
        unwound = threading.Lock()
        unwound.acquire()
        calls = self._calls
        running = Running()

        async def task() -> T:
            untrack = calls.track()
            RUNNING.set(running)  # this task's own context: what it starts is recorded here
            try:
                return await fn(*args, **kwargs)
            finally:
                untrack()
                unwound.release()

        # What BlockingPortal.start_task_soon does — a task on the portal's loop and a future
        # whose cancellation cancels it — minus the extra blocking hand-off anyio makes to
        # confirm the task started: one thread switch per call instead of two
        # (benchmarks/sync_overhead.py).
        assert started.loop is not None
        future = asyncio.run_coroutine_threadsafe(task(), started.loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            # Only close() cancels a call on the loop side; the caller's own interruptions
            # (KeyboardInterrupt) arrive as themselves.
            if self._closed:
                raise self.closed_under_call() from None
            raise
        except BaseException as exc:
            if not future.done():
                future.cancel()
                unwound.acquire(timeout=CANCEL_GRACE)
            if isinstance(exc, KeyboardInterrupt):
                tell_what_keeps_running(exc, running)
            raise

    def closed_under_call(self) -> ClientClosedError:
        """The error for a caller whose call was cancelled because the client was closed."""
        return ClientClosedError(
            f"this {self._label} was closed by another thread while the call was running, so "
            "the call was cancelled (a prediction it had already submitted may still run on the "
            "server); close the client only after its calls return"
        )

    @property
    def calls(self) -> _Calls:
        """The calls in flight, which ``close()`` cancels and waits for."""
        return self._calls

    def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """:meth:`run`, with async objects anywhere in the result turned into their blocking
        twins (the static type stays: only values typed loosely, like outputs, contain any)."""
        return self.convert(self.run(fn, *args, **kwargs))

    def close_client(self, client: Any) -> None:
        """Close ``client``: the whole runner if it owns it, else only the client (a client
        derived with ``with_options`` shares its parent's runner and pool)."""
        if client.aclose in self._closers:
            self.close()
        elif not self._closed:
            self.call(client.aclose)

    def iterate(self, source: AsyncIterable[T]) -> BlockingIterator[T]:
        """A blocking iterator over ``source`` (driven by one task on the loop thread)."""
        return BlockingIterator(self, source)

    # ------------------------------------------------------------------ conversion

    def convert(self, value: T) -> T:
        """Turn async objects in ``value`` into their blocking twins (recursively)."""
        converted: T = self._convert(value)
        return converted

    def _convert(self, value: Any) -> Any:
        kind = type(value)
        if kind in _ATOMIC or value is None:
            return value
        twin = _twins.get(kind)
        if twin is not None:
            return twin(value, self)
        if isinstance(value, dict):
            return {key: self._convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._convert(item) for item in value]
        if type(value) is tuple:
            return tuple(self._convert(item) for item in value)
        record = _record_fields(kind)
        if record is not None:
            return self._rebuilt(value, *record)
        return value

    def _rebuilt(
        self, value: Any, fields: tuple[tuple[str, str], ...], rebuild: Callable[..., Any]
    ) -> Any:
        """``value`` rebuilt with converted fields (``(attribute, init argument)`` pairs), or
        ``value`` itself when nothing needed converting."""
        changes = {}
        for name, argument in fields:
            current = getattr(value, name)
            converted = self._convert(current)
            if converted is not current:
                changes[argument] = converted
        return rebuild(value, **changes) if changes else value


_Record = tuple[tuple[tuple[str, str], ...], Callable[..., Any]] | None
_records: dict[type, _Record] = {}


def _record_fields(kind: type) -> _Record:
    """For an attrs or dataclass type, its ``(attribute, init argument)`` pairs and the function
    that rebuilds one with changes; ``None`` for other types. Cached: every blocking call converts
    its result, and a model's fields never change."""
    try:
        return _records[kind]
    except KeyError:
        pass
    record: _Record = None
    if attrs.has(kind):
        record = tuple((f.name, f.alias) for f in attrs.fields(kind) if f.init), attrs.evolve
    elif dataclasses.is_dataclass(kind):
        fields = tuple((f.name, f.name) for f in dataclasses.fields(kind) if f.init)
        record = fields, dataclasses.replace
    _records[kind] = record
    return record


class BlockingIterator(Iterator[T], Generic[T]):
    """Iterates an async iterable from blocking code.

    Items are handed over one at a time (nothing runs ahead of the consumer). Use it in a ``for``
    loop; stopping early — ``break``, an exception, ``close()`` or leaving a ``with`` block —
    cancels the async side, which then cleans up in its own task.
    """

    def __init__(self, runner: Runner, source: AsyncIterable[T]) -> None:
        self._runner = runner
        self._source = source
        self._receive: Any = None
        self._future: Any = None
        self._finished = threading.Event()
        self._closed = False
        self._running = Running()

    def __iter__(self) -> BlockingIterator[T]:
        return self

    def __enter__(self) -> BlockingIterator[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self, portal: BlockingPortal) -> None:
        send, receive = portal.call(_memory_stream)
        finished = self._finished
        source = self._source
        calls = self._runner.calls

        running = self._running

        async def pump() -> None:
            # This task owns the iteration and both stream ends: with a zero buffer, every item
            # was taken by the consumer before the loop ends, so closing both here loses nothing.
            untrack = calls.track()
            RUNNING.set(running)
            try:
                iterator = source.__aiter__()
                try:
                    async for item in iterator:
                        await send.send(item)
                finally:
                    aclose = getattr(iterator, "aclose", None)
                    if aclose is not None:
                        await aclose()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the consumer stopped listening
            finally:
                untrack()
                send.close()
                receive.close()
                finished.set()

        self._receive = receive
        self._future = portal.start_task_soon(pump)

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        portal = self._runner.portal()
        if self._receive is None:
            self._start(portal)
        try:
            item = portal.call(self._receive.receive)
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._closed = True
            try:
                self._future.result()  # re-raises what ended the async side, if anything
            except concurrent.futures.CancelledError:
                if self._runner.closed:
                    raise self._runner.closed_under_call() from None
                raise
            raise StopIteration from None
        except BaseException as exc:
            self.close()
            if isinstance(exc, KeyboardInterrupt):
                tell_what_keeps_running(exc, self._running)
            raise
        converted: T = self._runner.convert(item)
        return converted

    def close(self) -> None:
        """Stop iterating and cancel the async side (it cleans up in its own task)."""
        if self._closed and (self._future is None or self._future.done()):
            return
        self._closed = True
        future = self._future
        if future is None or future.done():
            return
        future.cancel()
        thread = self._runner.thread
        if thread is not None and threading.current_thread() is not thread:
            self._finished.wait(CANCEL_GRACE)

    def __del__(self) -> None:
        # A loop left with `break` drops the iterator; cancel the async side then too.
        future = self._future
        if future is not None and not future.done():
            future.cancel()


def tell_what_keeps_running(interrupt: BaseException, running: Running) -> None:
    """Say, on a Ctrl-C, which server-side work the interrupted call leaves running (and
    billed) and how to resume it: a note on the exception (Python 3.11+), else a log line."""
    said = running.describe()
    if said is None:
        return
    add_note = getattr(interrupt, "add_note", None)
    if add_note is not None:
        add_note(said)
    else:  # pragma: no cover - Python 3.10
        log.warning("interrupted: %s", said)


def _memory_stream() -> tuple[Any, Any]:
    # Zero buffer: the async side produces the next item only once the consumer asks for it.
    return anyio.create_memory_object_stream[Any](0)


def _run_in_fresh_thread(fn: Callable[[], Awaitable[None]]) -> None:
    """Run an async function to completion on a new event loop in a helper thread (usable even
    when the calling thread already runs a loop)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            anyio.run(fn)
        except BaseException as exc:  # pragma: no cover - closing an unused pool
            errors.append(exc)

    helper = threading.Thread(target=target, name="speedpix-close", daemon=True)
    helper.start()
    helper.join(CLOSE_TIMEOUT)
