"""What the command shows while it works: rich progress bars on a terminal, plain lines
otherwise (a pipe, a log file, ``--json``). Progress goes to stderr; results go to stdout, so
``speedpix run … --json | jq`` sees only the result."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from ..speedpix.models import TaskStatus
from ._clock import remaining

if TYPE_CHECKING:
    from rich.progress import Progress

    from ..portrait.models import Job
    from ..speedpix.models import Progress as TaskProgress

__all__ = ["BatchDisplay", "Display", "to_json"]


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def to_json(value: Any, *, indent: int | None = None) -> str:
    """JSON for output values (file outputs are their URL strings)."""
    return json.dumps(value, ensure_ascii=False, default=_default, indent=indent)


class Display:
    """Where a command writes: rich when stderr is a terminal and ``--json`` is off."""

    def __init__(self, *, json_mode: bool, stdout: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self.stdout = stdout or sys.stdout
        # rich is imported when a command runs, not for `speedpix --help`.
        from rich.console import Console

        self.err = Console(stderr=True, highlight=False)
        self.live = self.err.is_terminal and not json_mode

    def result(self, value: Any) -> None:
        """A command's result on stdout: one JSON document with ``--json``, else readable."""
        if self.json_mode:
            print(to_json(value), file=self.stdout, flush=True)
        elif isinstance(value, str):
            print(value, file=self.stdout, flush=True)
        else:
            print(to_json(value, indent=2), file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """A human note on stderr (skipped with ``--json``)."""
        if not self.json_mode:
            # soft_wrap: a long path must stay one piece to copy (rich would break it at 80
            # columns in a pipe).
            self.err.print(text, markup=False, soft_wrap=True)

    def alert(self, text: str) -> None:
        """A note on stderr that ``--json`` does not silence (what keeps running, what to do
        next): stdout stays the one JSON document."""
        self.err.print(text, markup=False, soft_wrap=True)

    @contextmanager
    def task(self, label: str) -> Iterator[TaskBar]:
        """A progress display for one waited-on task or job."""
        if not self.live:
            yield TaskBar(None, label, self)
            return
        from ._bars import task_bar

        bar = task_bar(self.err)
        with bar:
            yield TaskBar(bar, label, self)


class TaskBar:
    """One task's or job's progress: its status (queued with its position, running…), a bar
    that follows the server's percent, an ETA counting down between reports. Without a
    terminal, one line per status change and per 10 %."""

    def __init__(self, bar: Progress | None, label: str, display: Display) -> None:
        self._bar = bar
        self._label = label
        self._display = display
        self._status = ""
        self._tenth = -1
        self._ends_at: float | None = None
        self._first: tuple[float, float] | None = None
        """(time, percent) of the first report with a percent above 0 (a job's own ETA)."""
        self._id = (
            bar.add_task(label, total=100, detail="submitting", ends_at=None) if bar else None
        )

    def update(
        self, status: str, percent: float | None = None, detail: str = "", eta: float | None = None
    ) -> None:
        """Show ``status`` (and ``percent``, a ``detail``, the server's ``eta`` in seconds)."""
        if eta is not None:
            self._ends_at = time.monotonic() + max(0.0, eta)
        text = status + (f"  {detail}" if detail else "")
        if self._bar is not None and self._id is not None:
            completed = None if percent is None else max(0.0, min(100.0, percent))
            # Drawn at once, not at the next tick: a note printed next redraws the bar as it is.
            self._bar.update(
                self._id, completed=completed, detail=text, ends_at=self._ends_at, refresh=True
            )
            return
        tenth = -1 if percent is None else int(max(0.0, min(100.0, percent)) // 10)
        if status != self._status or tenth > self._tenth:
            # Plain: one line per status change and per 10 % (not per poll).
            self._status, self._tenth = status, max(tenth, self._tenth)
            parts = [f"{self._label}: {status}"]
            if percent is not None:
                parts.append(f"{percent:.0f}%")
            if detail:
                parts.append(detail)
            if self._ends_at is not None and status not in ("succeeded", "failed"):
                parts.append(f"eta {remaining(self._ends_at)}")
            self._display.note("  ".join(parts))

    def progress(self, report: TaskProgress) -> None:
        """The ``on_progress`` callback of a SpeedPix wait."""
        status = str(report.status)
        detail = ""
        if report.status == TaskStatus.WAITING:
            status = "queued"
            if report.queue_position:
                detail = f"position {report.queue_position}"
        eta = 0.0 if report.status.is_terminal else report.eta
        self.update(status, report.percent, detail, eta)

    def job(self, job: Job) -> None:
        """The ``on_progress`` callback of an AI Portrait training job: the percent in its
        message (``training: 68%``) moves the bar; the ETA follows from how fast it moves."""
        percent = job.percent
        now = time.monotonic()
        eta = None
        if percent is not None and 0 < percent < 100:
            if self._first is None:
                self._first = (now, percent)
            elif percent > self._first[1]:
                rate = (percent - self._first[1]) / (now - self._first[0])
                eta = (100.0 - percent) / rate
        elif job.done:
            eta = 0.0
        # The message is shown unless it only repeats the percent the bar shows.
        detail = "" if percent is not None or job.succeeded else job.message
        self.update(job.status, percent if percent is not None else 0.0, detail, eta)


class BatchDisplay:
    """Overall progress of a batch: done / failed / in flight, rate, ETA."""

    #: Seconds between plain progress lines.
    PLAIN_EVERY = 5.0

    def __init__(self, display: Display, *, total: int, concurrency: int) -> None:
        self._display = display
        self.total = total
        self.concurrency = concurrency
        self.succeeded = 0
        self.failed = 0
        self._start = time.monotonic()
        self._last_line = self._start
        self._bar: Progress | None = None
        self._id: Any = None

    @contextmanager
    def shown(self) -> Iterator[BatchDisplay]:
        if not self._display.live:
            yield self
            self._line()
            return
        from ._bars import batch_bar

        self._bar = batch_bar(self._display.err)
        with self._bar:
            self._id = self._bar.add_task("batch", total=self.total, counts=self._counts())
            yield self

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    def _counts(self) -> str:
        in_flight = min(self.concurrency, self.total - self.finished)
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.finished / elapsed
        return f"{self.succeeded} done, {self.failed} failed, {in_flight} in flight, {rate:.1f}/s"

    def add(self, *, ok: bool) -> None:
        if ok:
            self.succeeded += 1
        else:
            self.failed += 1
        if self._bar is not None:
            self._bar.update(self._id, completed=self.finished, counts=self._counts())
        elif time.monotonic() - self._last_line >= self.PLAIN_EVERY:
            self._line()

    def _line(self) -> None:
        self._last_line = time.monotonic()
        self._display.note(f"batch: {self.finished}/{self.total}: {self._counts()}")
