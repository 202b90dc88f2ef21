"""``speedpix batch``: one prediction per line of a JSON-lines file, surviving a crash.

The journal (``--journal``, default ``<out>.journal``) is the durable record; it is opened,
locked and checked before anything is written or sent. Each run writes every input's result —
earlier runs' replayed from the journal — to a temporary file renamed to ``--out`` at the end
(:mod:`._results`), so after ``kill -9`` the same command completes the batch with nothing
submitted twice and every result present once, and no run ever leaves ``--out`` truncated.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import click

from .._errors import InputError
from ._display import BatchDisplay, Display, to_json
from ._files import remove_partials, save_files
from ._runtime import collector_for, json_option, run_async, speedpix_client
from ._speedpix import timeout_option
from ._values import FileReferences, read_json_lines

if TYPE_CHECKING:
    from ..speedpix.models import BatchResult

__all__ = ["batch"]


#: Set by Kubernetes in every pod of an Indexed Job: the pod's 0-based completion index.
INDEX_VARIABLE = "JOB_COMPLETION_INDEX"
#: The Job's ``spec.completions``. Kubernetes does not expose it to the pod, so the Job's
#: manifest sets it (examples/k8s-indexed-job.yaml).
COUNT_VARIABLE = "JOB_COMPLETIONS"


def shard_from_environment(environ: Mapping[str, str]) -> str:
    """``--shard auto``: this pod's ``I/N`` from a Kubernetes Indexed Job's variables."""
    index, count = environ.get(INDEX_VARIABLE), environ.get(COUNT_VARIABLE)
    if index is None or count is None:
        missing = [name for name in (INDEX_VARIABLE, COUNT_VARIABLE) if name not in environ]
        raise InputError(
            f"--shard auto reads {INDEX_VARIABLE} (set by Kubernetes in an Indexed Job) and "
            f"{COUNT_VARIABLE} (set it in the Job's manifest to spec.completions); "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set — run "
            "inside an Indexed Job, or give --shard I/N"
        )
    if not index.strip().isdigit() or not count.strip().isdigit():
        raise InputError(
            f"--shard auto: {INDEX_VARIABLE}={index!r} and {COUNT_VARIABLE}={count!r} must be "
            "whole numbers"
        )
    if not int(index) < int(count):
        raise InputError(
            f"--shard auto: {INDEX_VARIABLE}={index} must be below {COUNT_VARIABLE}={count} "
            "(indexes count from 0); set JOB_COMPLETIONS to the Job's spec.completions"
        )
    return f"{int(index) + 1}/{int(count)}"


def parse_shard(
    text: str | None, environ: Mapping[str, str] = os.environ
) -> tuple[int, int] | None:
    """``"2/4"`` → ``(2, 4)``; ``"auto"`` → this pod's shard of a Kubernetes Indexed Job."""
    if text is None:
        return None
    if text.strip().lower() == "auto":
        text = shard_from_environment(environ)
    first, sep, second = text.partition("/")
    try:
        shard = (int(first), int(second)) if sep else None
    except ValueError:
        shard = None
    if shard is None:
        raise InputError(f"--shard {text!r}: write I/N, e.g. --shard 2/4 (the second of four)")
    from ..speedpix.batch import check_shard

    return check_shard(shard)


def result_line(result: BatchResult, files: list[Path] | None) -> dict[str, Any]:
    """The line ``--out`` gets for one input."""
    prediction = result.prediction
    line: dict[str, Any] = {
        "index": result.index,
        "task_id": prediction.id if prediction else None,
        "status": str(prediction.status) if prediction else "not submitted",
    }
    if result.ok:
        line["status"] = "succeeded"
        line["output"] = result.output
        if files is not None:
            line["files"] = [str(path) for path in files]
    else:
        error = result.error
        line["error"] = {"type": type(error).__name__, "message": str(error)}
    return line


def command_line() -> str:
    """The command as the user typed it (to run it again)."""
    return shlex.join(["speedpix", *sys.argv[1:]])


def _prepare_files_dir(folder: Path) -> None:
    """Create ``--files-dir``; drop the partial downloads a killed run left there (only once
    the journal is locked: a batch refused as a duplicate must not delete a live run's)."""
    folder.mkdir(parents=True, exist_ok=True)
    remove_partials(folder)


@click.command()
@click.argument("workflow")
@click.argument("inputs", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="JSON-lines file of results, one per input, written when the run ends (a re-run "
    "rewrites it with every result; an existing file the batch did not write is never replaced)",
)
@click.option("--concurrency", type=int, default=8, show_default=True)
@click.option(
    "--files-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="save every file output here, as <index>-<name>",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="the crash journal (default <out>.journal)",
)
@click.option(
    "--files-root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="the folder @file references in INPUTS may point into (default: the folder of INPUTS)",
)
@click.option(
    "--no-uploads",
    is_flag=True,
    help="send @… values in INPUTS as text: upload nothing",
)
@click.option(
    "--resubmit-unknown",
    is_flag=True,
    help="submit again inputs whose earlier submit may or may not have reached the server",
)
@click.option(
    "--shard",
    default=None,
    metavar="I/N|auto",
    help="run only every N-th input from the I-th; auto: this pod's share of a Kubernetes "
    "Indexed Job (JOB_COMPLETION_INDEX of JOB_COMPLETIONS)",
)
@click.option("--alias", "alias_id", default=None, help="the workflow alias (default main)")
@click.option("--version", "version_id", default=None, help="a workflow version instead")
@click.option("--resource-config-id", default=None)
@timeout_option
@json_option
def batch(
    workflow: str,
    inputs: Path,
    out: Path,
    concurrency: int,
    files_dir: Path | None,
    journal: Path | None,
    files_root: Path | None,
    no_uploads: bool,
    resubmit_unknown: bool,
    shard: str | None,
    alias_id: str | None,
    version_id: str | None,
    resource_config_id: str | None,
    timeout: float | None,
    json_mode: bool,
) -> int:
    """Run WORKFLOW once per line of INPUTS (a JSON object per line); re-run the same command
    after a crash to finish the batch.

    A value "@photo.jpg" uploads that file (relative to INPUTS' folder; it must lie inside that
    folder or --files-root and be an image, video or audio file; "@@x" is the text "@x"). A
    line that cannot be used is that input's error; the other lines run."""
    # Here, not at the top: the results file brings the journal and the HTTP stack, which
    # `speedpix --help` does not need.
    from ._results import ResultsFile, check_paths

    display = Display(json_mode=json_mode)
    journal_path = journal or out.with_name(out.name + ".journal")
    check_paths(inputs, out, journal_path)
    refs = FileReferences(
        base=inputs.parent, root=None if no_uploads else (files_root or inputs.parent)
    )
    items = read_json_lines(inputs, refs)
    where = parse_shard(shard)
    mine = len(items) if where is None else len(range(where[0] - 1, len(items), where[1]))

    async def main() -> int:
        async with speedpix_client() as client:
            results = client.run_many(
                workflow,
                items,
                concurrency=concurrency,
                alias_id=alias_id,
                version_id=version_id,
                resource_config_id=resource_config_id,
                timeout=timeout,
                journal=journal_path,
                resubmit_unknown=resubmit_unknown,
                shard=where,
            )
            progress = BatchDisplay(display, total=mine, concurrency=results.concurrency)
            # Entering opens, locks and checks the journal: nothing is written before.
            async with results as each:
                assert results.journal is not None
                earlier = results.journal.summary()
                if earlier.finished or earlier.running or earlier.unknown:
                    display.note(
                        f"resuming from the journal {journal_path}: {earlier.finished} finished "
                        f"(not run again), {earlier.running} waited on by id, {earlier.unknown} "
                        "whose submit may have reached the server (reported, not sent again"
                        f"{'' if not resubmit_unknown else ': --resubmit-unknown sends them'}), "
                        f"{max(0, mine - earlier.finished - earlier.running - earlier.unknown)} "
                        "to submit"
                    )
                if files_dir is not None:
                    await anyio.to_thread.run_sync(_prepare_files_dir, files_dir)
                sink = await ResultsFile.open(out, results.journal)
                if sink.renamed:
                    display.note(
                        f"{out} exists and was not written by this batch; it is left alone and "
                        f"the results go to {sink.target}"
                    )
                try:
                    with progress.shown():
                        async for result in each:
                            files = None
                            if result.ok and files_dir is not None:
                                files = await save_files(
                                    result.output,
                                    files_dir,
                                    prefix=f"{result.index}-",
                                    keep_existing=True,
                                )
                            sink.write(to_json(result_line(result, files)))
                            progress.add(ok=result.ok)
                except BaseException:
                    kept = sink.abandon()
                    where_now = (
                        f"{sink.lines} results so far are in {sink.target}"
                        if kept
                        else f"{sink.target} still holds the previous run's results"
                    )
                    running = len(results.still_running)
                    display.alert(
                        f"stopped: {running} task(s) keep running on the server (their ids are "
                        f"in the journal {journal_path}); {where_now}. To finish the batch — "
                        "waiting on those by id, running nothing twice — run again: "
                        f"{command_line()}"
                    )
                    raise
                sink.commit()
        summary = {
            "inputs": mine,
            "succeeded": progress.succeeded,
            "failed": progress.failed,
            "results": str(sink.target),
            "journal": str(journal_path),
        }
        if json_mode:
            display.result(summary)
        else:
            display.note(
                f"{progress.succeeded} succeeded, {progress.failed} failed; results in "
                f"{sink.target}"
            )
        return 0 if progress.failed == 0 else 1

    with collector_for(min(concurrency, mine)):
        return run_async(main)
