"""How the displays write a time left (shared by the plain lines and the rich bars)."""

from __future__ import annotations

import time

__all__ = ["remaining"]


def remaining(ends_at: float) -> str:
    """The time until ``ends_at`` (a ``time.monotonic()`` instant) as ``1:05`` or ``42s``."""
    minutes, seconds = divmod(round(max(0.0, ends_at - time.monotonic())), 60)
    return f"{minutes}:{seconds:02d}" if minutes else f"{seconds}s"
