"""``speedpix portrait check | train | job | create``: the AI Portrait client from the shell
(credentials from PAI_PORTRAIT_HOST, PAI_PORTRAIT_APP_ID and PAI_PORTRAIT_TOKEN)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._display import Display
from ._runtime import json_option, on_interrupt, polling_option, portrait_client, run_async
from ._values import parse_assignments

if TYPE_CHECKING:
    from ..portrait.models import Job

__all__ = ["portrait"]


def describe_job(job: Job) -> dict[str, Any]:
    """A training job as the command prints it."""
    document: dict[str, Any] = {
        "job_id": job.id,
        "state": job.state.name,
        "message": job.message,
        "model_id": job.model_id,
    }
    if job.result is not None:
        document["cost_time"] = job.result.cost_time
    return document


def keeps_running(job_id: int) -> str:
    """What an interrupted wait leaves behind, and how to come back to it."""
    return (
        f"training job {job_id} keeps running on the service; resume with: speedpix portrait "
        f"job {job_id} --wait"
    )


@click.group()
def portrait() -> None:
    """PAI AI Portrait: check photos, train a model, create portraits."""


@portrait.command()
@click.argument("images", nargs=-1, required=True)
@json_option
def check(images: tuple[str, ...], json_mode: bool) -> int:
    """Check photo URLs before training (code 1 = usable)."""
    display = Display(json_mode=json_mode)

    async def main() -> int:
        async with portrait_client() as client:
            results = await client.check_images(list(images))
        rows = [
            {"url": r.url, "code": int(r.code), "ok": r.ok, "meaning": r.meaning} for r in results
        ]
        if json_mode:
            display.result(rows)
        else:
            for row in rows:
                display.result(f"{row['code']}  {row['meaning']}  {row['url']}")
        return 0 if all(r.ok for r in results) else 1

    return run_async(main)


@portrait.command()
@click.argument("images", nargs=-1, required=True)
@click.option(
    "--kind", type=click.Choice(["sd15", "sdxl", "scene_lora"]), default="sd15", show_default=True
)
@click.option("--prompt", "prompts", multiple=True, help="one per photo (scene_lora only)")
@click.option("--no-wait", is_flag=True, help="start the job, print its id and return")
@click.option("--timeout", type=float, default=None, help="seconds to wait at most")
@polling_option
@json_option
def train(
    images: tuple[str, ...],
    kind: Any,
    prompts: tuple[str, ...],
    no_wait: bool,
    timeout: float | None,
    polling_interval: float | None,
    json_mode: bool,
) -> int:
    """Train a model on photo URLs of one person; waits with progress and prints the model id."""
    display = Display(json_mode=json_mode)

    async def main() -> int:
        async with portrait_client() as client:
            handle = await client.train(list(images), kind=kind, prompts=list(prompts) or None)
            display.note(f"job {handle.job_id} started (model {handle.model_id})")
            if no_wait:
                display.result(describe_job(handle.job))
                return 0
            with (
                display.task(f"job {handle.job_id}") as bar,
                on_interrupt(display, keeps_running(handle.job_id)),
            ):
                job = await handle.wait(
                    timeout=timeout, on_progress=bar.job, polling_interval=polling_interval
                )
            display.result(describe_job(job))
            return 0

    return run_async(main)


@portrait.command()
@click.argument("job_id", type=int)
@click.option("--wait", "wait_", is_flag=True, help="wait until the job ends")
@click.option("--timeout", type=float, default=None, help="seconds to wait at most")
@polling_option
@json_option
def job(
    job_id: int,
    wait_: bool,
    timeout: float | None,
    polling_interval: float | None,
    json_mode: bool,
) -> int:
    """Show a training job (or, with --wait, wait for it)."""
    display = Display(json_mode=json_mode)

    async def main() -> int:
        async with portrait_client() as client:
            if not wait_:
                display.result(describe_job(await client.jobs.get(job_id)))
                return 0
            with display.task(f"job {job_id}") as bar, on_interrupt(display, keeps_running(job_id)):
                done = await client.jobs.wait(
                    job_id,
                    timeout=timeout,
                    on_progress=bar.job,
                    polling_interval=polling_interval,
                )
            display.result(describe_job(done))
            return 0

    return run_async(main)


@portrait.command()
@click.argument("template", required=False)
@click.option("--model-id", "model_ids", multiple=True, help="a trained model (repeat for a group)")
@click.option("--kind", type=click.Choice(["sd15", "sdxl"]), default="sd15", show_default=True)
@click.option(
    "-c", "--config", "pairs", multiple=True, metavar="KEY=VALUE", help="a PortraitConfig key"
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="where to save the portrait",
)
@json_option
def create(
    template: str | None,
    model_ids: tuple[str, ...],
    kind: Any,
    pairs: tuple[str, ...],
    out: Path,
    json_mode: bool,
) -> int:
    """Create a portrait from a TEMPLATE URL (or from -c t2i_prompt=… without one)."""
    display = Display(json_mode=json_mode)
    config = parse_assignments(pairs, None, option="-c")

    async def main() -> int:
        async with portrait_client() as client:
            one = model_ids[0] if len(model_ids) == 1 else None
            many = list(model_ids) if len(model_ids) > 1 else None
            image = await client.create(
                template, model_id=one, model_ids=many, kind=kind, config=config or None
            )
            saved = await image.save(out)
        display.result(
            {
                "file": str(saved),
                "format": image.format,
                "width": image.width,
                "height": image.height,
                "bytes": image.nbytes,
                "request_id": image.request_id,
            }
            if json_mode
            else str(saved)
        )
        return 0

    return run_async(main)
