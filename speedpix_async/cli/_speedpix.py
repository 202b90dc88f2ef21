"""``speedpix run | wait | get | upload``: one workflow task, or files, from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import click

from ._display import Display
from ._files import save_files
from ._runtime import json_option, on_interrupt, polling_option, run_async, speedpix_client
from ._values import parse_assignments

if TYPE_CHECKING:
    from ..speedpix.models import Prediction

__all__ = ["get", "run", "upload", "wait"]


def describe(prediction: Prediction, files: list[Path] | None = None) -> dict[str, Any]:
    """A task as the command prints it (``--json``: exactly this document)."""
    document: dict[str, Any] = {
        "task_id": prediction.id,
        "status": str(prediction.status),
    }
    if not prediction.done:
        document.update(
            progress=round(prediction.progress, 4),
            eta=prediction.eta,
            queue_position=prediction.queue_position,
            message=prediction.message,
        )
    if prediction.succeeded:
        document["output"] = prediction.output
    if prediction.error is not None:
        document["error"] = prediction.error
        document["error_code"] = prediction.error_code
    if prediction.api_invoke_id:
        document["api_invoke_id"] = prediction.api_invoke_id
    if files is not None:
        document["files"] = [str(path) for path in files]
    return document


async def _finish(display: Display, final: Prediction, out: Path | None) -> int:
    files = None
    if out is not None:
        await anyio.Path(out).mkdir(parents=True, exist_ok=True)
        files = await save_files(final.output, out)
    if display.live:  # the live bar is gone; plain output already said so
        display.note(f"task {final.id} {final.status}")
    display.result(describe(final, files))
    return 0


def keeps_running(task_id: str) -> str:
    """What an interrupted wait leaves behind, and how to come back to it."""
    return f"task {task_id} keeps running on the server; resume with: speedpix wait {task_id}"


timeout_option = click.option(
    "--timeout", type=float, default=None, help="seconds to wait at most (default 30 minutes)"
)
out_option = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder to save every file output into (created if missing)",
)


@click.command()
@click.argument("workflow")
@click.option(
    "-i",
    "--input",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="an input; VALUE is JSON or text, @path uploads a local file (@@ escapes @)",
)
@click.option("--alias", "alias_id", default=None, help="the workflow alias (default main)")
@click.option("--version", "version_id", default=None, help="a workflow version instead")
@click.option("--resource-config-id", default=None, help="the resource configuration to use")
@out_option
@timeout_option
@polling_option
@click.option("--no-wait", is_flag=True, help="submit, print the task id and return")
@json_option
def run(
    workflow: str,
    pairs: tuple[str, ...],
    alias_id: str | None,
    version_id: str | None,
    resource_config_id: str | None,
    out: Path | None,
    timeout: float | None,
    polling_interval: float | None,
    no_wait: bool,
    json_mode: bool,
) -> int:
    """Run WORKFLOW once: upload @file inputs, wait with progress, save file outputs."""
    display = Display(json_mode=json_mode)
    inputs = parse_assignments(pairs, Path.cwd())

    async def main() -> int:
        from ..speedpix.tasks import submitted_report

        async with speedpix_client() as client:
            with display.task(workflow) as bar:
                bar.update("submitting")
                handle = await client.predictions.create(
                    workflow,
                    inputs,
                    alias_id=alias_id,
                    version_id=version_id,
                    resource_config_id=resource_config_id,
                )
                if no_wait:
                    display.result(
                        {"task_id": handle.id, "status": str(handle.status)}
                        if json_mode
                        else handle.id
                    )
                    return 0
                # The bar says what the submit answered before the note goes above it: never
                # "submitting" under a line that says "submitted".
                bar.progress(submitted_report(handle.prediction))
                display.note(f"task {handle.id} submitted")
                with on_interrupt(display, keeps_running(handle.id)):
                    final = await handle.wait(
                        timeout=timeout,
                        on_progress=bar.progress,
                        polling_interval=polling_interval,
                    )
            return await _finish(display, final, out)

    return run_async(main)


@click.command()
@click.argument("task_id")
@out_option
@timeout_option
@polling_option
@json_option
def wait(
    task_id: str,
    out: Path | None,
    timeout: float | None,
    polling_interval: float | None,
    json_mode: bool,
) -> int:
    """Wait for an existing task by id (after --no-wait, a timeout or a crash)."""
    display = Display(json_mode=json_mode)

    async def main() -> int:
        async with speedpix_client() as client:
            with (
                display.task(f"task {task_id}") as bar,
                on_interrupt(display, keeps_running(task_id)),
            ):
                bar.update("asking", None, f"task {task_id}")
                final = await client.predictions.wait(
                    task_id,
                    timeout=timeout,
                    on_progress=bar.progress,
                    polling_interval=polling_interval,
                )
            return await _finish(display, final, out)

    return run_async(main)


@click.command()
@click.argument("task_id")
@json_option
def get(task_id: str, json_mode: bool) -> int:
    """Show a task's current state (and its output once it has succeeded)."""
    display = Display(json_mode=json_mode)

    async def main() -> int:
        async with speedpix_client() as client:
            snapshot = await client.predictions.get(task_id)
            if snapshot.done:
                # The result call carries the outputs (or the failure's reason).
                snapshot = await client.predictions.result(task_id)
            display.result(describe(snapshot))
            return 0

    return run_async(main)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@json_option
def upload(files: tuple[Path, ...], json_mode: bool) -> int:
    """Upload FILES; print the access URL of each (use it as a workflow input)."""
    display = Display(json_mode=json_mode)

    async def main() -> int:
        async with speedpix_client() as client:
            uploaded = []
            for path in files:
                done = await client.files.create(path)
                uploaded.append(done)
                if not json_mode:
                    display.result(done.access_url)
            if json_mode:
                display.result(
                    [
                        {
                            "file": str(path),
                            "access_url": done.access_url,
                            "object_key": done.object_key,
                            "content_type": done.content_type,
                            "size": done.size,
                        }
                        for path, done in zip(files, uploaded, strict=True)
                    ]
                )
            return 0

    return run_async(main)
