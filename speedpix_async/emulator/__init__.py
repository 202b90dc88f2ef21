"""A faithful local emulator of the SpeedPix API and of PAI AI Portrait (install the
``emulator`` extra).

It verifies API-gateway signatures over the raw bytes it receives, answers the documented
envelopes, runs built-in workflows with the documented task lifecycle, and counts what happens
at ``GET /_emulator/stats``. Unmodified official clients work against it too.
"""

from ._app import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    DEFAULT_PORTRAIT_APP_ID,
    DEFAULT_PORTRAIT_TOKEN,
    IN_PROCESS_ENDPOINT,
    Emulator,
    LoopbackServer,
)
from ._samples import make_sample_photo
from .speedpix.workflows import InvalidInput, TaskContext, WorkflowFailure

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "DEFAULT_PORTRAIT_APP_ID",
    "DEFAULT_PORTRAIT_TOKEN",
    "IN_PROCESS_ENDPOINT",
    "Emulator",
    "InvalidInput",
    "LoopbackServer",
    "TaskContext",
    "WorkflowFailure",
    "make_sample_photo",
]
