"""The default blocking client behind ``speedpix_async.sync.run(...)``.

One per process (a blocking client is safe to share between threads), created on first use
from the ``SPEEDPIX_*`` environment variables, and recreated in a forked child, which must not
touch its parent's event-loop thread.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from .._errors import ConfigurationError

if TYPE_CHECKING:
    from ._generated import SpeedPix

__all__ = ["get_default_client", "resolve_client", "set_default_client"]

_lock = threading.Lock()
_default: tuple[int, SpeedPix] | None = None
_explicit: SpeedPix | None = None


def set_default_client(client: SpeedPix | None) -> None:
    """Use ``client`` for module-level blocking calls (``None``: back to one built from the
    environment). The caller keeps ownership and closes it."""
    from ._generated import SpeedPix

    global _explicit
    if client is not None and not isinstance(client, SpeedPix):
        raise ConfigurationError(
            f"set_default_client expects a SpeedPix, got {type(client).__name__} (the async "
            "client has its own: speedpix_async.set_default_client)"
        )
    _explicit = client


def get_default_client() -> SpeedPix:
    """The blocking client module-level calls use (created on first use)."""
    from ._generated import SpeedPix

    global _default
    if _explicit is not None:
        return _explicit
    with _lock:
        if _default is None or _default[0] != os.getpid() or _default[1]._runner.closed:
            _default = (os.getpid(), SpeedPix())
        return _default[1]


def resolve_client(client: SpeedPix | None) -> SpeedPix:
    return client if client is not None else get_default_client()
