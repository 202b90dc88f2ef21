"""Shared fixtures. Integration tests talk to the emulator over HTTP: in-process through
``httpx.ASGITransport`` (``client``) or over a real loopback socket (``loopback_client``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from speedpix_async import AsyncSpeedPix, PollPolicy, RetryPolicy
from speedpix_async.emulator import Emulator, LoopbackServer

#: Tasks run at this fraction of their nominal duration in tests.
TIME_SCALE = 0.1

#: No waiting between retries in tests; the decisions are what is under test.
FAST_RETRY = RetryPolicy(initial_delay=0.0, max_delay=0.0, jitter=0.0, max_retry_after=0.0)
#: Polls follow the ETA but never sleep more than 0.2 s.
FAST_POLL = PollPolicy(min_interval=0.05, max_interval=0.2, fallback_interval=0.05)

SECRET = "demo-app-secret"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real SPEEDPIX_* variables."""
    for name in ("SPEEDPIX_APP_KEY", "SPEEDPIX_APP_SECRET", "SPEEDPIX_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(time_scale=TIME_SCALE)


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[AsyncSpeedPix]:
    async with emulator.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as c:
        yield c


@pytest.fixture
def server(emulator: Emulator) -> Iterator[LoopbackServer]:
    with emulator.serve() as s:
        yield s


@pytest.fixture
async def loopback_client(server: LoopbackServer) -> AsyncIterator[AsyncSpeedPix]:
    async with server.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as c:
        yield c


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture the SDK's debug log (to check that nothing secret is ever logged)."""
    caplog.set_level(logging.DEBUG, logger="speedpix_async")
    return caplog
