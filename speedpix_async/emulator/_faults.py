"""Fault injection for retry and chaos tests .

Kinds, each injectable on any route at ``rate`` (or scripted one by one for tests):

=============  ==============================================================================
``throttle``   gateway flow control: 403 (or 429) ``Throttled by APP Flow Control``
``unavailable`` gateway 503 ``Service Unavailable``
``reset``      the connection drops after the response headers (body cut off)
``slow``       the response is held back ``slow_seconds`` (past a typical read timeout)
``malformed``  a complete HTTP response whose JSON is truncated
``envelope``   HTTP 200 with ``status: 20``, ``errCode: InternalError`` / ``SystemBusy``
=============  ==============================================================================

On the routes that do work — ``comfy_prompt``, and AI Portrait's ``train`` and ``create`` —
the last three happen either **before** the work or **after** it (the task exists, the answer is
lost); the second is what makes naive retries run a workflow twice. Rejections (``throttle``,
``unavailable``, ``envelope``) are always before: a gateway or backend that refuses a request
has not done its work. On the object store, ``throttle`` and ``unavailable`` answer OSS-style
503s; on AI Portrait, 429 and 503 envelopes; ``malformed`` and ``envelope`` do not apply to the
object store, ``envelope`` not to AI Portrait (whose only success is HTTP 200).
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Protocol

import anyio
import attrs
from starlette.responses import Response, StreamingResponse

from ._stats import Stats

__all__ = [
    "AFTER_CAPABLE",
    "FAULT_KINDS",
    "PROMPT_ROUTE",
    "EmulatedReset",
    "Fault",
    "FaultInjector",
    "FaultResponder",
]

FAULT_KINDS = ("throttle", "unavailable", "reset", "slow", "malformed", "envelope")
#: Kinds that can strike after the work was done (the response is lost or garbled).
AFTER_CAPABLE = frozenset({"reset", "slow", "malformed"})
PROMPT_ROUTE = "/scc/comfy_prompt"
#: Share of after-capable faults on comfy_prompt that strike after the task was created.
AFTER_SHARE = 0.5
#: Default delay of a ``slow`` fault, in seconds.
SLOW_SECONDS = 3.0

Handle = Callable[[], Awaitable[Response]]


class EmulatedReset(Exception):
    """Raised inside the app to drop the connection mid-response (a ``reset`` fault)."""


class _ResetLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        # uvicorn logs every exception an app raises; a deliberate reset is not news.
        return not isinstance(exc, EmulatedReset) and not isinstance(
            getattr(exc, "__context__", None), EmulatedReset
        )


logging.getLogger("uvicorn.error").addFilter(_ResetLogFilter())


@attrs.frozen
class Fault:
    kind: str
    phase: str = "before"


class FaultResponder(Protocol):
    """How one API flavour (gateway, object store) expresses each fault."""

    def rejection(self, kind: str) -> Response | None:
        """The response for ``throttle``/``unavailable``/``envelope``, or None if N/A."""

    def garble(self, response: Response | None) -> Response | None:
        """``response`` with its JSON truncated (None: invent one), or None if N/A."""


def _reset_response(status: int = 200) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"status":10,"data":{'
        raise EmulatedReset("connection dropped by a reset fault")

    return StreamingResponse(
        body(),
        status_code=status,
        media_type="application/json;charset=utf-8",
        headers={"content-length": "4096"},
    )


class FaultInjector:
    """Decides, per request, whether and how to misbehave. Thread-safe; deterministic with a
    ``seed``. Scripted faults (:meth:`script`) fire before random ones."""

    def __init__(
        self,
        stats: Stats,
        *,
        rate: float = 0.0,
        kinds: Iterable[str] = FAULT_KINDS,
        seed: int | None = None,
        slow_seconds: float = SLOW_SECONDS,
        throttle_status: int = 403,
        routes: Iterable[str] | None = None,
        after_routes: Iterable[str] = (PROMPT_ROUTE,),
    ) -> None:
        self._stats = stats
        self.after_routes = frozenset(after_routes)
        """Routes that do work worth losing the answer of: faults there may strike after it."""
        self._lock = threading.Lock()
        self._scripted: dict[str | None, deque[Fault]] = {}
        self.configure(
            rate=rate,
            kinds=kinds,
            seed=seed,
            slow_seconds=slow_seconds,
            throttle_status=throttle_status,
            routes=routes,
        )

    def configure(
        self,
        *,
        rate: float | None = None,
        kinds: Iterable[str] | None = None,
        seed: int | None = None,
        slow_seconds: float | None = None,
        throttle_status: int | None = None,
        routes: Iterable[str] | None = None,
    ) -> None:
        """Change the random faults (only the arguments given)."""
        with self._lock:
            if rate is not None:
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"fault rate must be within [0, 1], got {rate}")
                self.rate = rate
            if kinds is not None:
                chosen = tuple(kinds)
                unknown = set(chosen) - set(FAULT_KINDS)
                if unknown or not chosen:
                    raise ValueError(
                        f"fault kinds must be some of {', '.join(FAULT_KINDS)}; got {chosen}"
                    )
                self.kinds = chosen
            if seed is not None or not hasattr(self, "_random"):
                self._random = random.Random(seed)
            if slow_seconds is not None:
                self.slow_seconds = slow_seconds
            if throttle_status is not None:
                if throttle_status not in (403, 429):
                    raise ValueError(
                        "throttle_status is 403 (classic gateway) or 429 (VPC gateway)"
                    )
                self.throttle_status = throttle_status
            if routes is not None or not hasattr(self, "routes"):
                self.routes = None if routes is None else frozenset(routes)

    def script(
        self, kind: str, *, route: str | None = None, phase: str = "before", times: int = 1
    ) -> None:
        """Make the next ``times`` requests (to ``route``, or any route) suffer ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        if phase not in ("before", "after") or (phase == "after" and kind not in AFTER_CAPABLE):
            raise ValueError(f"{kind} faults cannot strike after the work is done")
        with self._lock:
            self._scripted.setdefault(route, deque()).extend([Fault(kind, phase)] * times)

    def clear(self) -> None:
        """Forget scripted faults and stop random ones."""
        with self._lock:
            self._scripted.clear()
            self.rate = 0.0

    def _pick(self, route: str) -> Fault | None:
        with self._lock:
            for key in (route, None):
                queue = self._scripted.get(key)
                if queue:
                    return queue.popleft()
            if self.rate <= 0 or (self.routes is not None and route not in self.routes):
                return None
            if self._random.random() >= self.rate:
                return None
            kind = self._random.choice(self.kinds)
            after = (
                route in self.after_routes
                and kind in AFTER_CAPABLE
                and self._random.random() < AFTER_SHARE
            )
            return Fault(kind, "after" if after else "before")

    async def apply(self, route: str, handle: Handle, responder: FaultResponder) -> Response:
        """Serve the request through ``handle`` — or misbehave."""
        fault = self._pick(route)
        if fault is None:
            return await handle()
        if fault.kind in ("throttle", "unavailable", "envelope"):
            rejection = responder.rejection(fault.kind)
            if rejection is None:
                return await handle()
            self._stats.fault(fault.kind, fault.phase)
            return rejection
        if fault.kind == "malformed" and responder.garble(None) is None:
            return await handle()
        self._stats.fault(fault.kind, fault.phase)
        response = await handle() if fault.phase == "after" else None
        if fault.kind == "slow":
            await anyio.sleep(self.slow_seconds)
            return response if response is not None else await handle()
        if fault.kind == "malformed":
            garbled = responder.garble(response)
            assert garbled is not None
            return garbled
        return _reset_response()
