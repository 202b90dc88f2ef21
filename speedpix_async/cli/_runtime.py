"""Pieces every command shares: the ``--json`` flag and running a coroutine to completion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import click

__all__ = ["json_option", "run_async"]

json_option = click.option(
    "--json",
    "json_mode",
    is_flag=True,
    help="print one JSON document on stdout and no progress display",
)


def run_async(main: Callable[[], Awaitable[int]]) -> int:
    """Run a command's coroutine on a fresh event loop; its int is the exit code."""
    return anyio.run(main)
