"""``python -m speedpix_async <command>``: the ``speedpix`` command.

``demo`` and ``emulator`` work without the ``cli`` extra (click, rich); the other commands need
it.
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
        from ._demo import main as demo

        return demo(rest)
    if command == "emulator":
        from .emulator.__main__ import main as serve

        return serve(rest)
    print(f"{command!r} needs the cli extra (or is unknown)\n\n{USAGE}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from .cli import main as cli
    except ImportError:
        return _without_cli(args)
    return cli(args)


if __name__ == "__main__":
    sys.exit(main())
