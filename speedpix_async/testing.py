"""Pytest fixtures for testing your own SpeedPix and AI Portrait code against the local
emulator.

Installed as a pytest plugin (entry point ``speedpix_async``), so the fixtures are available
without imports once ``speedpix-async[emulator]`` is installed:

* ``speedpix_emulator`` — a fresh :class:`~speedpix_async.emulator.Emulator` per test
  (register your own workflows on it, read ``.stats``); its clock runs at the time scale given
  by ``@pytest.mark.speedpix_time_scale(0.01)`` on the test (or class/module), else
  ``--speedpix-time-scale 0.01`` / the ``speedpix_time_scale`` ini option, else 1 — one knob
  for SpeedPix tasks and AI Portrait training alike;
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

``docs/emulator.md`` ("Testing your code") has worked recipes: scripted faults, stats over
loopback, queues and wrong estimates, and respx mocks for those who prefer no server.

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


TIME_SCALE_MARKER = "speedpix_time_scale"
TIME_SCALE_OPTION = "--speedpix-time-scale"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("speedpix", "speedpix_async emulator fixtures")
    group.addoption(
        TIME_SCALE_OPTION,
        type=float,
        default=None,
        metavar="SCALE",
        help=(
            "time scale of the speedpix_emulator fixture for every test (0.01: tasks and "
            "AI Portrait training run 100x faster); a speedpix_time_scale marker wins"
        ),
    )
    parser.addini(
        "speedpix_time_scale",
        "default time scale of the speedpix_emulator fixture (like --speedpix-time-scale)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{TIME_SCALE_MARKER}(scale): run this test's speedpix_emulator at this time scale "
        "(0.01 makes a 60 s AI Portrait training take 0.6 s)",
    )


def _time_scale(request: pytest.FixtureRequest) -> float:
    """The marker nearest the test, else the command-line option, else the ini value, else 1."""
    marker = request.node.get_closest_marker(TIME_SCALE_MARKER)
    if marker is not None:
        if len(marker.args) != 1 or marker.kwargs:
            raise pytest.UsageError(
                f"@pytest.mark.{TIME_SCALE_MARKER} takes one number, e.g. "
                f"@pytest.mark.{TIME_SCALE_MARKER}(0.01); got args={marker.args!r} "
                f"kwargs={marker.kwargs!r}"
            )
        value: object = marker.args[0]
    else:
        value = request.config.getoption(TIME_SCALE_OPTION)
        if value is None:
            value = request.config.getini("speedpix_time_scale") or 1.0
    try:
        scale = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        scale = -1.0
    if not scale >= 0:
        raise pytest.UsageError(f"the speedpix time scale must be a number >= 0, got {value!r}")
    return scale


@pytest.fixture
def speedpix_emulator(request: pytest.FixtureRequest) -> Emulator:
    """A fresh in-process emulator. Its time scale (both services) comes from
    ``@pytest.mark.speedpix_time_scale(x)``, else ``--speedpix-time-scale``, else the
    ``speedpix_time_scale`` ini value, else 1; ``speedpix_emulator.time_scale = x`` changes it
    mid-test."""
    from .emulator import Emulator

    return Emulator(time_scale=_time_scale(request))


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
