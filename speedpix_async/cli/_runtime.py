"""Pieces every command shares: the ``--json`` flag and running a coroutine to completion."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import anyio
import click

from ._display import Display

if TYPE_CHECKING:
    from ..portrait.client import AsyncPortrait
    from ..speedpix.client import AsyncSpeedPix

__all__ = [
    "WIDE_BATCH",
    "WIDE_GC_THRESHOLD",
    "collector_for",
    "json_option",
    "on_interrupt",
    "polling_option",
    "portrait_client",
    "run_async",
    "speedpix_client",
]

polling_option = click.option(
    "--polling-interval",
    type=float,
    default=None,
    help="poll every this many seconds (default: often enough for the display, about every "
    "second; at least 0.05)",
)

json_option = click.option(
    "--json",
    "json_mode",
    is_flag=True,
    help="print one JSON document on stdout and no progress display",
)


# The clients are imported when a command runs, not when the command group is built: that keeps
# httpx and the service code out of `speedpix --help` (docs/performance.md, "Start-up").


def speedpix_client() -> AsyncSpeedPix:
    """A SpeedPix client configured from the environment, as every command uses it."""
    from ..speedpix.client import AsyncSpeedPix

    return AsyncSpeedPix()


def portrait_client() -> AsyncPortrait:
    """An AI Portrait client configured from the environment."""
    from ..portrait.client import AsyncPortrait

    return AsyncPortrait()


#: In flight at once from which a batch raises the garbage collector's thresholds.
WIDE_BATCH = 1_000
#: The thresholds then (Python's defaults are 700, 10, 10).
WIDE_GC_THRESHOLD = (10_000, 50, 100)


@contextlib.contextmanager
def collector_for(in_flight: int) -> Iterator[None]:
    """Raise the cyclic garbage collector's thresholds while ``in_flight`` predictions (at least
    :data:`WIDE_BATCH`) run at once, and restore them afterwards.

    Each prediction in flight holds some 30 tracked objects; at thousands in flight the
    collector's full passes over them cost a tenth or more of the command's CPU and stop the
    loop for a fifth of a second each (docs/performance.md, "Tuning a very wide fan-out"). The
    library leaves the collector alone — its settings belong to the program — but this process
    is the command's own. Restored afterwards, because tests run commands in-process."""
    if in_flight < WIDE_BATCH:
        yield
        return
    before = gc.get_threshold()
    gc.set_threshold(*WIDE_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def run_async(main: Callable[[], Awaitable[int]]) -> int:
    """Run a command's coroutine on a fresh event loop; its int is the exit code."""
    return anyio.run(main)


@contextlib.contextmanager
def on_interrupt(display: Display, message: str) -> Iterator[None]:
    """Say ``message`` (what keeps running on the server, how to resume it) when the command is
    interrupted — Ctrl-C cancels the command's task — inside the block."""
    try:
        yield
    except (KeyboardInterrupt, anyio.get_cancelled_exc_class()):
        display.alert(message)
        raise
