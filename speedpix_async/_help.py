"""Help text for the two commands written with argparse (``demo`` and ``emulator``, which must
work without the ``cli`` extra's click) in the style of the click ones: ``Usage: speedpix …``,
the description, then ``Options:``."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["OptionGroup", "command_parser"]


class OptionGroup(Protocol):
    """What the commands use of an argparse argument group."""

    def add_argument(self, *names: str, **settings: Any) -> argparse.Action: ...

    def add_mutually_exclusive_group(self, *, required: bool = False) -> Any: ...


class _Formatter(argparse.HelpFormatter):
    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[Any],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, "Usage: " if prefix is None else prefix)


def command_parser(
    prog: str, description: str, *, usage: str = "[OPTIONS]"
) -> tuple[argparse.ArgumentParser, OptionGroup, OptionGroup]:
    """A parser with its ``Arguments:`` and ``Options:`` groups, to add to. ``prog`` is how the
    user called the command (``speedpix emulator``, ``speedpix-emulator``…), so the usage line
    and errors name what they typed; ``usage`` follows it (``[OPTIONS] [SERVICE]``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        usage=f"%(prog)s {usage}",
        description=description,
        formatter_class=_Formatter,
        add_help=False,
    )
    arguments = parser.add_argument_group("Arguments")
    options = parser.add_argument_group("Options")
    options.add_argument("-h", "--help", action="help", help="Show this message and exit.")
    return parser, arguments, options
