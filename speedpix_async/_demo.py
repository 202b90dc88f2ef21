"""``python -m speedpix_async demo``: the whole flow against an embedded emulator.

Starts the emulator on a free loopback port, runs a workflow through the public client over real
HTTP, and prints a timeline of what happened on the wire.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

import anyio

from .models import Progress

__all__ = ["main"]

#: Seconds between polls in the demo (for display; real waits follow the server's ETA).
DEMO_POLL_INTERVAL = 0.25


class Timeline:
    """Prints ``+seconds  event`` lines relative to its creation."""

    def __init__(self, out: TextIO) -> None:
        self._start = time.monotonic()
        self._out = out
        self._last: tuple[str, int] | None = None

    def line(self, text: str) -> None:
        print(f"  +{time.monotonic() - self._start:6.3f}s  {text}", file=self._out, flush=True)

    def progress(self, report: Progress) -> None:
        # One line per state change, and per 25 % step while running.
        key = (str(report.status), int(report.progress * 4))
        if key == self._last:
            return
        self._last = key
        detail = ""
        if report.status == "waiting" and report.queue_position is not None:
            detail = f"  queue position {report.queue_position}"
        elif report.status == "running":
            detail = f"  {report.percent:5.1f}%"
        if report.eta is not None and not report.status.is_terminal:
            detail += f"  eta {report.eta:.2f}s"
        self.line(f"{report.status}{detail}")


async def run_demo(out: TextIO, *, seconds: float) -> int:
    try:
        from .emulator import Emulator
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        print(
            f"the demo needs the emulator extra ({exc.name} is missing): "
            "pip install 'speedpix-async[emulator]'",
            file=sys.stderr,
        )
        return 1
    emulator = Emulator()
    with emulator.serve() as server:
        print(f"SpeedPix demo: embedded emulator at {server.endpoint}", file=out)
        timeline = Timeline(out)
        async with server.client() as client:
            timeline.line(f"submit wf-sleep {{'seconds': {seconds:g}}} (alias main)")
            handle = await client.predictions.create("wf-sleep", {"seconds": seconds})
            estimate = handle.prediction.estimated_duration
            timeline.line(f"task {handle.id} accepted, estimated {estimate:.2f}s")
            # A fixed interval so every state shows up; without it, polls follow the server's
            # ETA and usually land once, just after the task ends.
            final = await handle.wait(
                on_progress=timeline.progress, timeout=60, polling_interval=DEMO_POLL_INTERVAL
            )
            timeline.line(f"result: {json.dumps(final.output, ensure_ascii=False)}")
        stats = emulator.stats.snapshot()
    routes = stats["requests"]["by_route"]
    summary = ", ".join(
        f"{path.rsplit('/', 1)[-1]} {count}" for path, count in sorted(routes.items())
    )
    print(f"requests: {stats['requests']['total']} ({summary})", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    seconds = 1.5
    if args and args[0] == "--seconds":
        seconds = float(args[1])
    return anyio.run(lambda: run_demo(sys.stdout, seconds=seconds))
