"""Headers the emulated gateways put on every answer, made cheaply: they are on the hot path of
every request a fan-out sends (benchmarks/emulator_routes.py)."""

from __future__ import annotations

import email.utils
import os

__all__ = ["HttpDate", "request_id"]


def request_id() -> str:
    """A fresh upper-case UUID4 string, as ``X-Ca-Request-Id`` carries (``uuid.uuid4()`` and its
    formatting cost several times more)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class HttpDate:
    """The ``Date`` header for an epoch time, formatted once per whole second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def at(self, when: float) -> str:
        second = int(when)
        if second != self._second:
            self._text = email.utils.formatdate(second, usegmt=True)
            self._second = second
        return self._text
