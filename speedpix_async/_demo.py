"""``python -m speedpix_async demo [portrait]``: the guides' samples, end to end, against an
embedded emulator.

``demo`` makes a sample product photo, uploads it through the public client, runs
``wf-white-background`` with a text (the workflow every SpeedPix guide publishes), shows progress
while it waits, saves ``speedpix-output/result.png`` and prints a timeline of what happened on
the wire.

``demo portrait`` follows the AI Portrait guide: checks sample photos, trains a model on them,
waits for the training job with progress, creates a portrait from a template, saves
``speedpix-output/portrait.png`` and prints the timeline.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import anyio

from ._help import command_parser
from .portrait.models import Job
from .speedpix.models import Progress

__all__ = ["OUTPUT_FOLDER", "main"]

#: Where the demo, like the examples, saves what it makes unless told otherwise (git ignores it).
OUTPUT_FOLDER = "speedpix-output"

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


def _emulator_missing(exc: ImportError) -> int:
    print(
        f"the demo needs the emulator extra ({exc.name} is missing): "
        "pip install 'speedpix-async[emulator]'",
        file=sys.stderr,
    )
    return 1


async def run_demo(out: TextIO, *, result_path: Path) -> int:
    try:
        from .emulator import Emulator, make_sample_photo
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        return _emulator_missing(exc)
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


#: The portrait demo's emulator runs training 20 times faster: about 3 s instead of a minute.
PORTRAIT_TIME_SCALE = 0.05


async def run_portrait_demo(out: TextIO, *, result_path: Path) -> int:
    try:
        from .emulator import Emulator
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        return _emulator_missing(exc)
    with Emulator(time_scale=PORTRAIT_TIME_SCALE) as emulator, emulator.serve() as server:
        print(f"AI Portrait demo: embedded emulator at {server.endpoint}", file=out)
        timeline = Timeline(out)
        photos = [server.sample_url(f"portrait-1-{n}.png") for n in range(4)]
        stranger = server.sample_url("portrait-4-0.png")
        async with server.portrait_client() as portrait:
            timeline.line(f"check {len(photos)} photos of one person and 1 of someone else")
            for number, result in enumerate(await portrait.check_images([*photos, stranger]), 1):
                facing = ", frontal" if result.frontal else ""
                timeline.line(
                    f"  photo {number}: code {int(result.code)} — {result.meaning}{facing}"
                )
            job = await portrait.train(photos)
            timeline.line(
                f"train (SD 1.5) on {len(photos)} photos: job {job.job_id}, model {job.model_id}"
            )
            seen: set[str] = set()

            def progress(snapshot: Job) -> None:
                text = f"job {snapshot.state.name}: {snapshot.message}"
                if text not in seen:
                    seen.add(text)
                    timeline.line(text)

            trained = await job.wait(
                on_progress=progress, timeout=120, polling_interval=DEMO_POLL_INTERVAL
            )
            cost = trained.result.cost_time if trained.result else None
            timeline.line(f"trained model {job.model_id} in {cost}s")
            template = server.sample_url("template-1.png")
            timeline.line("create a portrait from template-1.png (lora_weights 0.9)")
            image = await portrait.create(
                template, model_id=job.model_id, config={"lora_weights": 0.9}
            )
            timeline.line(
                f"portrait: {image.width}x{image.height} {image.format}, {image.nbytes:,} bytes"
            )
            saved = await image.save(result_path)
            timeline.line(f"saved {saved}")
        stats = emulator.stats.snapshot()
    routes = stats["requests"]["by_route"]
    summary = ", ".join(
        f"{path.rsplit('/', 1)[-1]} {count}"
        for path, count in sorted(routes.items())
        if path.startswith("/api/")
    )
    print(f"requests: {sum(routes.values())} ({summary})", file=out)
    print(f"portrait image: {saved}", file=out)
    return 0


def _unwritable(target: Path) -> str | None:
    """Why the picture could not be saved at ``target``, or None when it can."""
    if target.is_dir():
        return "it is a directory; name a file, e.g. --output out/result.png"
    folder = target.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist; create it first or pick another --output"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is not writable; pick another --output"
    return None


def main(argv: list[str] | None = None, prog: str = "python -m speedpix_async demo") -> int:
    """Run a demo; ``prog`` is the command's name as the user typed it."""
    parser, arguments, options = command_parser(
        prog,
        "Run a vendor guide's sample end to end against an embedded emulator and print the "
        "timeline: SpeedPix's white background (default), or the AI Portrait guide (portrait).",
        usage="[OPTIONS] [speedpix|portrait]",
    )
    arguments.add_argument(
        "service",
        nargs="?",
        choices=("speedpix", "portrait"),
        default="speedpix",
        help="which guide's sample to run (default speedpix)",
    )
    options.add_argument(
        "--output",
        default=None,
        help=f"where to save the picture (default ./{OUTPUT_FOLDER}/result.png, or "
        "portrait.png there)",
    )
    args = parser.parse_args(argv)
    default = Path(OUTPUT_FOLDER, "portrait.png" if args.service == "portrait" else "result.png")
    if args.output is None:
        default.parent.mkdir(exist_ok=True)  # ours to create; a folder in --output is not
    target = Path(args.output or default).absolute()
    problem = _unwritable(target)
    if problem:
        # Checked before the run, not after it: a minute of work should not end in a traceback.
        print(f"demo: cannot save to {target}: {problem}", file=sys.stderr)
        return 2
    if args.service == "portrait":
        return anyio.run(lambda: run_portrait_demo(sys.stdout, result_path=target))
    return anyio.run(lambda: run_demo(sys.stdout, result_path=target))
