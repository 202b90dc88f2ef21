"""Shared fixtures. Integration tests talk to the emulator over HTTP: in-process through
``httpx.ASGITransport`` (``client``) or over a real loopback socket (``loopback_client``)."""

from __future__ import annotations

import importlib.util
import logging
import signal
from collections.abc import AsyncIterator, Iterator

import pytest

from speedpix_async import AsyncSpeedPix, PollPolicy, RetryPolicy
from speedpix_async.emulator import Emulator, LoopbackServer

#: Tasks run at this fraction of their nominal duration in tests.
TIME_SCALE = 0.1

#: No waiting between retries in tests; the decisions are what is under test.
#: How many backends anyio's pytest plugin runs each ``@pytest.mark.anyio`` test on: asyncio,
#: and trio when it is installed (selenium, for the web app's browser test, brings it).
ANYIO_BACKENDS = 2 if importlib.util.find_spec("trio") else 1
FAST_RETRY = RetryPolicy(initial_delay=0.0, max_delay=0.0, jitter=0.0, max_retry_after=0.0)
#: Polls follow the ETA but never sleep more than 0.2 s.
#: …and a watched wait reports every 0.05 s (tasks run at TIME_SCALE: a 1 s task takes 0.1 s).
FAST_POLL = PollPolicy(
    min_interval=0.05, max_interval=0.2, fallback_interval=0.05, watch_interval=0.05
)

SECRET = "demo-app-secret"


def default_sigint() -> None:
    """``preexec_fn`` for a child that must stop on SIGINT even when this test run ignores it
    (a suite started as a background job of a non-interactive shell inherits SIGINT ignored,
    and a Python child would then inherit that too)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: Skip marker for tests that interrupt this very process with SIGINT.
needs_sigint = pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
    reason="SIGINT is ignored in this process (started as a background job), so Ctrl-C "
    "cannot be simulated here",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real SPEEDPIX_* variables."""
    for name in ("SPEEDPIX_APP_KEY", "SPEEDPIX_APP_SECRET", "SPEEDPIX_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


#: The HTTP backends the transport suite runs on (DESIGN 4.8).
BACKENDS = ("httpx", "aiohttp", "native")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of the transport suite (marked ``backends``) that talk over a socket run once per
    HTTP backend; in-process tests use an injected httpx transport, so they run once."""
    marked = metafunc.definition.get_closest_marker
    over_sockets = marked("loopback") or {"server", "loopback_client"} & set(metafunc.fixturenames)
    if marked("backends") and over_sockets and "http_backend" in metafunc.fixturenames:
        metafunc.parametrize("http_backend", BACKENDS, indirect=True)


@pytest.fixture(autouse=True)
def http_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The backend every client built without ``http_backend=`` uses in this test (through
    ``SPEEDPIX_HTTP_BACKEND``): "auto", as users get it — httpx in this process, where respx is
    loaded, and the native backend in the programs tests start — or each backend in turn for
    the transport suite."""
    name: str = getattr(request, "param", "auto")
    monkeypatch.setenv("SPEEDPIX_HTTP_BACKEND", name)
    return name


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
async def loopback_client(
    server: LoopbackServer, http_backend: str
) -> AsyncIterator[AsyncSpeedPix]:
    async with server.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as c:
        yield c
        # The suite really ran on the backend it names.
        assert c.http_backend == http_backend


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture the SDK's debug log (to check that nothing secret is ever logged)."""
    caplog.set_level(logging.DEBUG, logger="speedpix_async")
    return caplog
