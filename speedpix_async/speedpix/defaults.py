"""Module-level ``speedpix_async.run(...)`` and its default client.

The guides call a module-level ``run`` configured from the environment. A client's connection
pool belongs to the event loop that opened it, so the default client is kept **per event loop**
and never reused across loops (``asyncio.run`` twice in a script gets two clients). Under
asyncio, a default client is closed when its loop shuts down: ``asyncio.run`` cancels the
guardian task below, which then closes the pool. On other event loops (trio) each call uses a
short-lived client.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from .._core.http import on_asyncio
from .._errors import ConfigurationError
from .client import AsyncSpeedPix
from .options import RunKeywords
from .predictions import AsyncPredictionHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack  # annotations only: 10 ms at start-up

__all__ = ["get_default_client", "run", "set_default_client"]

T = TypeVar("T")

_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncSpeedPix] = (
    weakref.WeakKeyDictionary()
)
_explicit: AsyncSpeedPix | None = None
# Strong references so the guardian tasks are not garbage-collected while they wait.
_guardians: set[asyncio.Task[None]] = set()


def set_default_client(client: AsyncSpeedPix | None) -> None:
    """Use ``client`` for module-level calls (``None`` goes back to one client per loop built
    from the environment). The caller keeps ownership: close it yourself, and use it only on
    the event loop it was first used on."""
    global _explicit
    if client is not None and not isinstance(client, AsyncSpeedPix):
        raise ConfigurationError(
            f"set_default_client expects an AsyncSpeedPix, got {type(client).__name__}"
        )
    _explicit = client


async def _close_with_loop(client: AsyncSpeedPix) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        # asyncio.run() cancels leftover tasks before closing the loop; this is our cue.
        await client.aclose()


def get_default_client() -> AsyncSpeedPix:
    """The client module-level calls use on the running asyncio loop (created on first use from
    the ``SPEEDPIX_*`` environment variables)."""
    if _explicit is not None:
        return _explicit
    loop = asyncio.get_running_loop()
    client = _per_loop.get(loop)
    if client is None or client.closed:
        client = AsyncSpeedPix()
        _per_loop[loop] = client
        guardian = loop.create_task(_close_with_loop(client), name="speedpix-default-client")
        _guardians.add(guardian)
        guardian.add_done_callback(_guardians.discard)
    return client


@overload
async def run(
    workflow_id: str,
    input: dict[str, Any] | None = None,
    *,
    client: AsyncSpeedPix | None = None,
    wait: Literal[True] = True,
    output_type: None = None,
    **options: Unpack[RunKeywords],
) -> Any: ...


@overload
async def run(
    workflow_id: str,
    input: dict[str, Any] | None = None,
    *,
    client: AsyncSpeedPix | None = None,
    wait: Literal[True] = True,
    output_type: type[T],
    **options: Unpack[RunKeywords],
) -> T: ...


@overload
async def run(
    workflow_id: str,
    input: dict[str, Any] | None = None,
    *,
    client: AsyncSpeedPix | None = None,
    wait: Literal[False],
    output_type: None = None,
    **options: Unpack[RunKeywords],
) -> AsyncPredictionHandle: ...


@overload
async def run(
    workflow_id: str,
    input: dict[str, Any] | None = None,
    *,
    client: AsyncSpeedPix | None = None,
    wait: bool = True,
    output_type: type[Any] | None = None,
    **options: Unpack[RunKeywords],
) -> Any: ...


async def run(
    workflow_id: str,
    input: dict[str, Any] | None = None,
    *,
    client: AsyncSpeedPix | None = None,
    wait: bool = True,
    output_type: type[Any] | None = None,
    **options: Unpack[RunKeywords],
) -> Any:
    """``AsyncSpeedPix.run`` on ``client`` or on the default client (see
    :func:`set_default_client`); same parameters and result."""
    if client is not None:
        return await client.run(workflow_id, input, wait=wait, output_type=output_type, **options)
    if _explicit is not None or on_asyncio():
        return await get_default_client().run(
            workflow_id, input, wait=wait, output_type=output_type, **options
        )
    if not wait:
        raise ConfigurationError(
            "run(wait=False) needs a client that outlives the call on this event loop; pass "
            "client= or call set_default_client() first"
        )
    async with AsyncSpeedPix() as temporary:
        return await temporary.run(workflow_id, input, output_type=output_type, **options)
