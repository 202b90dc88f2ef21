"""The ``speedpix`` command group and its entry point: one clear line and a non-zero exit for
an error (``--debug`` for the traceback)."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import click

from .._errors import SpeedPixError
from .._version import __version__
from ..portrait.errors import PortraitJobTimeoutError
from ..speedpix.errors import PredictionTimeoutError
from ._batch import batch
from ._portrait import portrait
from ._speedpix import get, run, upload, wait

__all__ = ["cli", "main"]

ENVIRONMENT = """\b
Credentials come from the environment, as for the Python client:
  SPEEDPIX_APP_KEY, SPEEDPIX_APP_SECRET, SPEEDPIX_ENDPOINT      (run, wait, get, upload, batch)
  PAI_PORTRAIT_HOST, PAI_PORTRAIT_APP_ID, PAI_PORTRAIT_TOKEN     (portrait)
  SPEEDPIX_LOG=info|debug                                        (log every request)
"""


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=ENVIRONMENT,
)
# The distribution's name, not the command's: the official SDK is the ``speedpix`` package.
@click.version_option(
    __version__, "--version", prog_name="speedpix", message="speedpix-async %(version)s"
)
@click.option("--debug", is_flag=True, help="show the traceback of an error")
def cli(debug: bool) -> None:
    """Run SpeedPix (智作工坊) workflows and PAI AI Portrait jobs from the shell."""


@cli.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def emulator(args: tuple[str, ...]) -> int:
    """Serve the local emulator of both services (options: speedpix emulator --help)."""
    try:
        from ..emulator.__main__ import main as serve
    except ImportError as exc:
        raise click.ClickException(
            f"the emulator needs the emulator extra ({exc.name} is missing): "
            "pip install 'speedpix-async[emulator]'"
        ) from None
    return serve(list(args), prog="speedpix emulator")


@cli.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def demo(args: tuple[str, ...]) -> int:
    """Run a guide's sample against an embedded emulator (demo portrait: the AI Portrait one)."""
    from .._demo import main as run_demo

    return run_demo(list(args), prog="speedpix demo")


for command in (run, wait, get, upload, batch, portrait):
    cli.add_command(command)


def _resume_hint(exc: BaseException) -> str | None:
    if isinstance(exc, PredictionTimeoutError) and exc.task_id:
        return f"resume with: speedpix wait {exc.task_id}"
    if isinstance(exc, PortraitJobTimeoutError):
        return f"resume with: speedpix portrait job {exc.job_id} --wait"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 1 an error, 2 a usage error, 130 ^C)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args[: args.index("--")] if "--" in args else "--debug" in args
    try:
        code = cli.main(args=args, prog_name="speedpix", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        print("interrupted", file=sys.stderr)
        return 130
    except (SpeedPixError, OSError) as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        hint = _resume_hint(exc)
        if hint:
            print(hint, file=sys.stderr)
        return 1
    return code if isinstance(code, int) else 0
