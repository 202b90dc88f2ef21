"""The blocking API: ``SpeedPix``, ``Portrait`` and friends, for scripts, notebooks and threads.

Generated from the async classes (``scripts/generate_sync.py``), so the two cannot drift: every
async method has a blocking twin with the same name (``aclose`` → ``close``, ``aiter_bytes`` →
``iter_bytes``), parameters, defaults and docstring. Each client runs an event loop in its own
named thread; see docs/architecture.md ("The blocking twin") for the rules: Ctrl-C cancels the
call in flight, calls from inside a running event loop work but warn once, calls from the
client's own loop thread or from a forked child raise.

Module-level blocking calls mirror the guides::

    import speedpix_async.sync as speedpix

    output = speedpix.run("your-workflow-id", {"prompt": "a cat"})   # default client from env
    output["images"]["url"].save("result.png")
"""

from ._sync._generated import (
    AudioFile,
    DocumentFile,
    FileOutput,
    Files,
    ImageFile,
    JobHandle,
    Jobs,
    Portrait,
    PredictionHandle,
    Predictions,
    SpeedPix,
    VideoFile,
    default_speedpix,
    run,
)
from ._sync._runner import BlockingIterator, SyncInAsyncWarning
from ._sync._values import PortraitImage

__all__ = [
    "AudioFile",
    "BlockingIterator",
    "DocumentFile",
    "FileOutput",
    "Files",
    "ImageFile",
    "JobHandle",
    "Jobs",
    "Portrait",
    "PortraitImage",
    "PredictionHandle",
    "Predictions",
    "SpeedPix",
    "SyncInAsyncWarning",
    "VideoFile",
    "get_default_client",
    "run",
    "set_default_client",
]

get_default_client = default_speedpix.get
"""The blocking client module-level calls use (created on first use from ``SPEEDPIX_*``)."""
set_default_client = default_speedpix.set
"""Use a client for module-level blocking calls (``None``: back to one from the environment)."""
