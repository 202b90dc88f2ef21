"""``SPEEDPIX_LOG=debug|info``: turn on the SDK's logs without writing any logging code.

Read once, when the package is imported. ``info`` shows each HTTP request the SDK makes (one
line each, logged by the SDK itself on every backend, with signed URLs hidden) and warnings
such as a server that stopped answering; ``debug`` adds every retry decision and clock-skew
correction, and when the wait loop plans its next look. Without the variable nothing is
configured: the ``speedpix_async`` logger propagates to whatever the application set up, as a
library's should.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Mapping

from ._redact import protect_http_logs

__all__ = ["ENV_LOG", "LOG_FORMAT", "configure_from_env"]

ENV_LOG = "SPEEDPIX_LOG"
LOG_FORMAT = "[%(asctime)s %(name)s %(levelname)s] %(message)s"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
#: Loggers the switch turns on: ours only (its request lines cover every backend; httpx's own
#: would repeat them on the httpx backend).
_LOGGERS = ("speedpix_async",)


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler the switch installs (a distinct type, so it is installed only once)."""


def configure_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """Apply ``SPEEDPIX_LOG``; returns the level set, or None when the variable is unset.

    An unknown value is ignored with a warning naming the valid ones (a typo in an environment
    variable should not stop a program from importing the SDK).
    """
    raw = (os.environ if environ is None else environ).get(ENV_LOG, "").strip().lower()
    if not raw:
        return None
    level = _LEVELS.get(raw)
    if level is None:
        warnings.warn(
            f"{ENV_LOG}={raw!r} is not a log level; use 'debug' or 'info' (or unset it)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    protect_http_logs()
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(isinstance(handler, _EnvHandler) for handler in logger.handlers):
            handler = _EnvHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(LOG_FORMAT))
            logger.addHandler(handler)
            # Our handler prints it; the root logger printing it again would double each line.
            logger.propagate = False
    return level
