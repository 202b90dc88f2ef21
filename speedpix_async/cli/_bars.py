"""The rich progress bars of a terminal display; imported only when one is shown, so that rich
stays out of ``speedpix --help`` and of plain (piped) runs' start-up."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ._clock import remaining

__all__ = ["batch_bar", "task_bar"]


class Countdown(ProgressColumn):
    """The time left, counted down between reports: the server's last estimate minus the time
    since it came (the display interpolates; the library reports only what the server said)."""

    def render(self, task: Task) -> Text:
        ends = task.fields.get("ends_at")
        if ends is None:
            return Text("")
        return Text(f"eta {remaining(ends)}", style="progress.remaining")


def task_bar(console: Console) -> Progress:
    """One waited-on task's or job's bar: status, percent, detail, countdown, elapsed."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        Countdown(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def batch_bar(console: Console) -> Progress:
    """A batch's bar: done / failed / in flight and rate, elapsed, time remaining."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    )
