"""``python -m speedpix_async <command>`` and the installed ``speedpix`` and
``speedpix-emulator`` scripts.

``demo`` and ``emulator`` work without the ``cli`` extra (click, rich); the other commands need
it. Without an extra a command needs, it says which one to install instead of a traceback.
"""

from __future__ import annotations

import sys

USAGE = """usage: python -m speedpix_async <command>

commands:
  demo        run the SpeedPix guides' sample against an embedded emulator (demo portrait:
              the AI Portrait guide's) and print the timeline
  emulator    serve the emulator (same as python -m speedpix_async.emulator)

run, wait, get, upload, batch and portrait need the cli extra:
  pip install 'speedpix-async[cli]'
"""


def _without_cli(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "demo":
        try:
            from ._demo import main as demo
        except ImportError as exc:
            return _missing("emulator", exc, "the demo")
        return demo(rest)
    if command == "emulator":
        return emulator(rest)
    print(f"{command!r} needs the cli extra (or is unknown)\n\n{USAGE}", file=sys.stderr)
    return 2


def _missing(extra: str, exc: ImportError, what: str) -> int:
    print(
        f"{what} needs the {extra} extra ({exc.name or exc} is not installed):\n"
        f"  pip install 'speedpix-async[{extra}]'",
        file=sys.stderr,
    )
    return 2


def main(argv: list[str] | None = None) -> int:
    """The ``speedpix`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from .cli import main as cli
    except ImportError:
        return _without_cli(args)
    return cli(args)


def emulator(argv: list[str] | None = None) -> int:
    """The ``speedpix-emulator`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from .emulator.__main__ import main as serve
    except ImportError as exc:
        return _missing("emulator", exc, "the emulator")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
