"""Pytest fixtures for testing your own SpeedPix and AI Portrait code against the local
emulator.

Installed as a pytest plugin (entry point ``speedpix_async``), so the fixtures are available
without imports once ``speedpix-async[emulator]`` is installed:

* ``speedpix_emulator`` — a fresh :class:`~speedpix_async.emulator.Emulator` per test
  (register your own workflows on it, read ``.stats``);
* ``speedpix_server`` — that emulator served on a free loopback port (``.endpoint``);
* ``speedpix_env`` — ``SPEEDPIX_APP_KEY`` / ``_APP_SECRET`` / ``_ENDPOINT`` pointed at the
  server, so code that builds ``AsyncSpeedPix()`` from the environment talks to it;
* ``portrait_env`` — the same for AI Portrait: ``PAI_PORTRAIT_HOST`` / ``_APP_ID`` / ``_TOKEN``
  (sample pictures: ``speedpix_server.sample_url("portrait-0-0.png")``).

The fixtures are plain (not async), so they work under either async test runner. Mark async
tests the way your runner wants — ``@pytest.mark.asyncio`` for pytest-asyncio (or set
``asyncio_mode = "auto"`` and drop the marker), ``@pytest.mark.anyio`` for anyio's plugin::

    import pytest

    @pytest.mark.asyncio  # or @pytest.mark.anyio
    async def test_my_pipeline(speedpix_emulator):
        def upper(inputs, ctx):
            return {"text": inputs["t"].upper()}

        speedpix_emulator.register_workflow("upper", upper)
        async with speedpix_emulator.client() as client:
            assert await client.run("upper", {"t": "hi"}) == {"text": "HI"}

Tests of retry paths (faults injected with ``speedpix_emulator.faults``) need not wait out
real backoffs: ``set_testing(True)`` (or ``with testing_mode():``) makes every client retry at
once — the same decisions and logs, no backoff or ``Retry-After`` wait — in the spirit of
stamina's ``set_testing``.

Nothing here is imported until a fixture is used, so the plugin costs nothing (and breaks
nothing) in projects that do not use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .emulator import Emulator, LoopbackServer

__all__ = [
    "portrait_env",
    "set_testing",
    "speedpix_emulator",
    "speedpix_env",
    "speedpix_server",
    "testing_mode",
]


def set_testing(enabled: bool) -> None:
    """Test mode on or off for every client of this process: retries are made at once (the
    same decisions, no backoff or ``Retry-After`` wait)."""
    from ._core.retry import TESTING

    TESTING.enabled = bool(enabled)


@contextlib.contextmanager
def testing_mode() -> Iterator[None]:
    """Test mode (see :func:`set_testing`) for the duration of a ``with`` block."""
    from ._core.retry import TESTING

    before = TESTING.enabled
    TESTING.enabled = True
    try:
        yield
    finally:
        TESTING.enabled = before


@pytest.fixture
def speedpix_emulator() -> Emulator:
    """A fresh in-process emulator (time scale 1; set ``.tasks.time_scale`` to speed up)."""
    from .emulator import Emulator

    return Emulator()


@pytest.fixture
def speedpix_server(speedpix_emulator: Emulator) -> Iterator[LoopbackServer]:
    """``speedpix_emulator`` served over a real loopback socket for the test's duration."""
    with speedpix_emulator.serve() as server:
        yield server


@pytest.fixture
def speedpix_env(
    speedpix_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> LoopbackServer:
    """Point the ``SPEEDPIX_*`` environment variables at ``speedpix_server``."""
    monkeypatch.setenv("SPEEDPIX_APP_KEY", speedpix_server.emulator.app_key)
    monkeypatch.setenv("SPEEDPIX_APP_SECRET", speedpix_server.emulator.app_secret)
    monkeypatch.setenv("SPEEDPIX_ENDPOINT", speedpix_server.endpoint)
    return speedpix_server


@pytest.fixture
def portrait_env(
    speedpix_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> LoopbackServer:
    """Point the ``PAI_PORTRAIT_*`` environment variables at ``speedpix_server``."""
    monkeypatch.setenv("PAI_PORTRAIT_HOST", speedpix_server.endpoint)
    monkeypatch.setenv("PAI_PORTRAIT_APP_ID", speedpix_server.emulator.portrait_app_id)
    monkeypatch.setenv("PAI_PORTRAIT_TOKEN", speedpix_server.emulator.portrait_token)
    return speedpix_server
