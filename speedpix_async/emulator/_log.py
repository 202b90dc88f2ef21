"""One log line per request, at INFO on the ``speedpix_async.emulator`` logger: method, path,
status and milliseconds — never a query string (signed store URLs carry credentials there) nor
a header. ``speedpix emulator --log-level info`` shows them."""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from typing import Any

__all__ = ["RequestLog"]

log = logging.getLogger("speedpix_async.emulator")

Scope = MutableMapping[str, Any]
Receive = Any
Send = Any


class RequestLog:
    """An ASGI middleware around the emulator's app (free when INFO is off)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]

        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log.info(
                "%s %s -> %s in %.1f ms",
                scope.get("method", "?"),
                scope.get("path", "?"),
                status[0] or "no answer",
                (time.perf_counter() - started) * 1000.0,
            )
