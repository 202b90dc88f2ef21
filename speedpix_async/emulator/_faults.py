"""Fault injection for retry and chaos tests (DESIGN §3). Extended with fault kinds by the
reliability work; with no faults configured every request passes straight through."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Callable

from starlette.responses import Response

if TYPE_CHECKING:
    from ._speedpix import SpeedPixApi

__all__ = ["FaultInjector"]


class FaultInjector:
    async def apply(
        self, route: str, handle: Callable[[], Awaitable[Response]], api: SpeedPixApi
    ) -> Response:
        return await handle()
