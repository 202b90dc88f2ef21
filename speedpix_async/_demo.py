"""``python -m speedpix_async demo``: the guides' sample, end to end, against an embedded emulator.

Makes a sample product photo, uploads it through the public client, runs
``wf-white-background`` with a text (the workflow every vendor guide publishes), shows progress
while it waits, saves ``result.png`` and prints a timeline of what happened on the wire.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import anyio

from .models import Progress

__all__ = ["main"]

#: Seconds between polls in the demo (for display; real waits follow the server's ETA).
DEMO_POLL_INTERVAL = 0.25
DEMO_TEXT = "SpeedPix demo: product on white"


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


async def run_demo(out: TextIO, *, result_path: Path) -> int:
    try:
        from .emulator import Emulator, make_sample_photo
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        print(
            f"the demo needs the emulator extra ({exc.name} is missing): "
            "pip install 'speedpix-async[emulator]'",
            file=sys.stderr,
        )
        return 1
    with tempfile.TemporaryDirectory(prefix="speedpix-demo-") as workdir, Emulator() as emulator:
        sample = make_sample_photo(Path(workdir) / "product.jpg")
        with emulator.serve() as server:
            print(f"SpeedPix demo: embedded emulator at {server.endpoint}", file=out)
            timeline = Timeline(out)
            async with server.client() as client:
                timeline.line(f"upload {sample.name} ({sample.stat().st_size:,} bytes)")
                uploaded = await client.files.create(sample)
                timeline.line(f"uploaded as {uploaded.object_key} ({uploaded.content_type})")
                timeline.line(f"submit wf-white-background (alias main), text {DEMO_TEXT!r}")
                handle = await client.predictions.create(
                    "wf-white-background", {"image": uploaded.access_url, "text": DEMO_TEXT}
                )
                estimate = handle.prediction.estimated_duration or 0.0
                timeline.line(f"task {handle.id} accepted, estimated {estimate:.2f}s")
                # A fixed interval so every state shows up; without it, polls follow the
                # server's ETA and usually land once, just after the task ends.
                final = await handle.wait(
                    on_progress=timeline.progress, timeout=120, polling_interval=DEMO_POLL_INTERVAL
                )
                image = final.output["images"]
                size = f"{image['width']}x{image['height']} {image['format']}"
                timeline.line(f"result: {size}, {final.output['info']}")
                saved = await image["url"].save(result_path)
                timeline.line(f"saved {saved}")
            stats = emulator.stats.snapshot()
    routes = stats["requests"]["by_route"]
    summary = ", ".join(
        f"{path.rsplit('/', 1)[-1]} {count}" for path, count in sorted(routes.items())
    )
    print(f"requests: {stats['requests']['total']} ({summary})", file=out)
    print(f"result image: {saved}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m speedpix_async demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--output", default="result.png", help="where to save the result (default ./result.png)"
    )
    args = parser.parse_args(argv)
    return anyio.run(lambda: run_demo(sys.stdout, result_path=Path(args.output).absolute()))
