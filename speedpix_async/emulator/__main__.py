"""``python -m speedpix_async.emulator`` / ``speedpix-emulator``: serve the emulator.

Prints ``SPEEDPIX_ENDPOINT=http://HOST:PORT`` once it accepts connections and serves until
SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

import uvicorn

from ._app import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, Emulator
from ._server import bind_socket, endpoint_for, uvicorn_config

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="speedpix-emulator",
        description="A local emulator of the SpeedPix (智作工坊) API for tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8787, help="port (default 8787; 0 = any free port)"
    )
    parser.add_argument(
        "--app-key",
        default=os.environ.get("SPEEDPIX_APP_KEY") or DEFAULT_APP_KEY,
        help="accepted app key (default $SPEEDPIX_APP_KEY or demo-app-key)",
    )
    parser.add_argument(
        "--app-secret",
        default=os.environ.get("SPEEDPIX_APP_SECRET") or DEFAULT_APP_SECRET,
        help="its secret (default $SPEEDPIX_APP_SECRET or demo-app-secret)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply every task duration by this factor (e.g. 0.1 for fast tests)",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    return parser


class _AnnouncingServer(uvicorn.Server):
    """Prints the ready line only once the socket accepts connections."""

    def __init__(self, config: uvicorn.Config, ready_line: str) -> None:
        super().__init__(config)
        self._ready_line = ready_line

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets)  # type: ignore[arg-type]
        if self.started:
            print(self._ready_line, flush=True)


class _Stop(Exception):
    """Raised by our SIGTERM handler so the process exits 0, as it does on Ctrl-C."""


def _stop(signum: int, frame: object) -> None:
    raise _Stop


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.time_scale < 0:
        print("speedpix-emulator: --time-scale must be >= 0", file=sys.stderr)
        return 2
    emulator = Emulator(
        app_key=args.app_key, app_secret=args.app_secret, time_scale=args.time_scale
    )
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"speedpix-emulator: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    server = _AnnouncingServer(
        uvicorn_config(emulator.app, log_level=args.log_level),
        f"SPEEDPIX_ENDPOINT={endpoint_for(sock)}",
    )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal with the
    # previous handler restored; ours turns SIGTERM into a clean exit instead of a kill.
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
