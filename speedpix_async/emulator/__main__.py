"""``python -m speedpix_async.emulator`` / ``speedpix-emulator``: serve the emulator.

Once it accepts connections it prints every variable a client needs, as ``export`` lines a shell
can run — ``SPEEDPIX_ENDPOINT`` first, then the SpeedPix and AI Portrait credentials — and
serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
from collections.abc import Sequence

import uvicorn

from .._help import command_parser
from ._app import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    DEFAULT_PORTRAIT_APP_ID,
    DEFAULT_PORTRAIT_TOKEN,
    Emulator,
)
from ._faults import FAULT_KINDS, SLOW_SECONDS
from ._server import bind_socket, endpoint_for, uvicorn_config

__all__ = ["build_parser", "main", "parse_capacity"]


def _port(text: str) -> int:
    number = int(text)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port: use 0-65535 (0 = any free)")
    return number


def build_parser(prog: str = "speedpix-emulator") -> argparse.ArgumentParser:
    parser, _, options = command_parser(
        prog,
        "Serve a local emulator of the SpeedPix (智作工坊) API and of PAI AI Portrait, for tests "
        "and demos; it prints the export lines a client needs.",
    )
    options.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)"
    )
    options.add_argument(
        "--port", type=_port, default=8787, help="port (default 8787; 0 = any free port)"
    )
    options.add_argument(
        "--app-key",
        default=os.environ.get("SPEEDPIX_APP_KEY") or DEFAULT_APP_KEY,
        help="accepted app key (default $SPEEDPIX_APP_KEY or demo-app-key)",
    )
    options.add_argument(
        "--app-secret",
        default=os.environ.get("SPEEDPIX_APP_SECRET") or DEFAULT_APP_SECRET,
        help="its secret (default $SPEEDPIX_APP_SECRET or demo-app-secret)",
    )
    options.add_argument(
        "--portrait-app-id",
        default=os.environ.get("PAI_PORTRAIT_APP_ID") or DEFAULT_PORTRAIT_APP_ID,
        help=f"accepted AI Portrait AppId (default $PAI_PORTRAIT_APP_ID or "
        f"{DEFAULT_PORTRAIT_APP_ID})",
    )
    options.add_argument(
        "--portrait-token",
        default=os.environ.get("PAI_PORTRAIT_TOKEN") or DEFAULT_PORTRAIT_TOKEN,
        help=f"its Token (default $PAI_PORTRAIT_TOKEN or {DEFAULT_PORTRAIT_TOKEN})",
    )
    options.add_argument(
        "--also-app-key",
        action="append",
        default=[],
        metavar="KEY=SECRET",
        help="another accepted app key (repeatable); each key sees only its own tasks",
    )
    options.add_argument(
        "--also-portrait-app",
        action="append",
        default=[],
        metavar="APP_ID=TOKEN",
        help="another accepted AI Portrait AppId (repeatable); each sees only its own models "
        "and jobs",
    )
    options.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply every task duration by this factor (e.g. 0.1 for fast tests)",
    )
    options.add_argument(
        "--capacity",
        default=None,
        metavar="N | POOL=N,…",
        help="tasks a resource pool runs at once; the rest queue, with positions and estimates "
        "that grow with the queue (N for every pool, or per resource_config_id, e.g. "
        "default=2,pool-a=8; default: unlimited)",
    )
    estimates = parser.add_argument_group("Wrong estimates (a real service's are early or late)")
    estimates.add_argument(
        "--estimate-bias",
        type=float,
        default=0.0,
        help="reported estimates are this much late (0.3) or early (-0.3) (default 0: exact)",
    )
    estimates.add_argument(
        "--estimate-noise",
        type=float,
        default=0.0,
        help="plus this standard deviation of random error per task (default 0)",
    )
    estimates.add_argument("--estimate-seed", type=int, default=None, help="reproducible noise")
    faults = parser.add_argument_group("Faults (for retry and chaos testing)")
    faults.add_argument(
        "--fault-rate", type=float, default=0.0, help="share of requests that misbehave, 0..1"
    )
    faults.add_argument(
        "--fault-kinds",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated kinds (default all: {','.join(FAULT_KINDS)})",
    )
    faults.add_argument("--fault-seed", type=int, default=None, help="make faults reproducible")
    faults.add_argument(
        "--slow-seconds",
        type=float,
        default=SLOW_SECONDS,
        help=f"how long a 'slow' fault holds a response (default {SLOW_SECONDS:g})",
    )
    faults.add_argument(
        "--throttle-status",
        type=int,
        choices=(403, 429),
        default=403,
        help="status of a throttle fault: 403 (classic gateway) or 429 (VPC gateway)",
    )
    options.add_argument(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error", "critical"),
        help="info: one line per request (method, path, status, milliseconds; no secrets)",
    )
    return parser


def parse_pairs(flag: str, values: Sequence[str]) -> dict[str, str]:
    """``--also-app-key KEY=SECRET`` (and the Portrait twin), repeated, as a mapping."""
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, secret = value.partition("=")
        if not sep or not name.strip() or not secret:
            raise ValueError(f"{flag} takes NAME=SECRET, e.g. {flag} team-b=s3cret")
        pairs[name.strip()] = secret
    return pairs


def parse_capacity(text: str | None) -> int | dict[str, int] | None:
    """``--capacity``: ``4`` (every pool) or ``default=2,pool-a=8``."""
    if text is None:
        return None
    if text.strip().isdigit():
        return int(text)
    pools: dict[str, int] = {}
    for part in text.split(","):
        pool, sep, number = part.partition("=")
        if not sep or not pool.strip() or not number.strip().isdigit():
            raise ValueError(f"--capacity {text!r}: write N, or POOL=N,… (e.g. default=2)")
        pools[pool.strip()] = int(number)
    return pools


class _AnnouncingServer(uvicorn.Server):
    """Prints the ready lines only once the socket accepts connections."""

    def __init__(self, config: uvicorn.Config, ready_lines: str) -> None:
        super().__init__(config)
        self._ready_lines = ready_lines

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets)  # type: ignore[arg-type]
        if self.started:
            print(self._ready_lines, flush=True)


def ready_lines(emulator: Emulator, endpoint: str) -> str:
    """What a client needs, as ``export`` lines (``SPEEDPIX_ENDPOINT`` first)."""
    variables = {
        "SPEEDPIX_ENDPOINT": endpoint,
        "SPEEDPIX_APP_KEY": emulator.app_key,
        "SPEEDPIX_APP_SECRET": emulator.app_secret,
        "PAI_PORTRAIT_HOST": endpoint,
        "PAI_PORTRAIT_APP_ID": emulator.portrait_app_id,
        "PAI_PORTRAIT_TOKEN": emulator.portrait_token,
    }
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in variables.items())


class _Stop(Exception):
    """Raised by our SIGTERM handler so the process exits 0, as it does on Ctrl-C."""


def _stop(signum: int, frame: object) -> None:
    raise _Stop


def main(argv: Sequence[str] | None = None, prog: str = "speedpix-emulator") -> int:
    """Serve until SIGINT or SIGTERM; ``prog`` is the command's name as the user typed it."""
    args = build_parser(prog).parse_args(argv)
    if args.time_scale < 0:
        print(f"{prog}: --time-scale must be >= 0", file=sys.stderr)
        return 2
    try:
        emulator = Emulator(
            app_key=args.app_key,
            app_secret=args.app_secret,
            extra_credentials=parse_pairs("--also-app-key", args.also_app_key),
            extra_portrait_credentials=parse_pairs("--also-portrait-app", args.also_portrait_app),
            time_scale=args.time_scale,
            fault_rate=args.fault_rate,
            fault_kinds=[k.strip() for k in args.fault_kinds.split(",") if k.strip()],
            fault_seed=args.fault_seed,
            slow_seconds=args.slow_seconds,
            throttle_status=args.throttle_status,
            portrait_app_id=args.portrait_app_id,
            portrait_token=args.portrait_token,
            capacity=parse_capacity(args.capacity),
            estimate_bias=args.estimate_bias,
            estimate_noise=args.estimate_noise,
            estimate_seed=args.estimate_seed,
        )
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"{prog}: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    if args.log_level in ("info", "debug"):
        # One line per request on stderr (the emulator's own log; uvicorn's access log is off).
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        requests = logging.getLogger("speedpix_async.emulator")
        requests.addHandler(handler)
        requests.setLevel(logging.INFO)
    server = _AnnouncingServer(
        uvicorn_config(emulator.app, log_level=args.log_level),
        ready_lines(emulator, endpoint_for(sock)),
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
