"""``speedpix_async.run`` with a default client per event loop, and ``set_default_client``."""

from __future__ import annotations

import asyncio

import pytest

import speedpix_async
from speedpix_async import AsyncSpeedPix, ConfigurationError
from speedpix_async.emulator import LoopbackServer


@pytest.fixture
def env(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    monkeypatch.setenv("SPEEDPIX_APP_KEY", server.emulator.app_key)
    monkeypatch.setenv("SPEEDPIX_APP_SECRET", server.emulator.app_secret)
    monkeypatch.setenv("SPEEDPIX_ENDPOINT", server.endpoint)
    return server


def test_one_default_client_per_event_loop_closed_with_its_loop(env: LoopbackServer) -> None:
    seen: list[AsyncSpeedPix] = []

    async def job(n: int) -> tuple[object, object, bool]:
        output = await speedpix_async.run("wf-echo", {"n": n})
        output_again = await speedpix_async.run("wf-echo", {"n": n + 1})
        client = speedpix_async.get_default_client()
        seen.append(client)
        return output, output_again, client is speedpix_async.get_default_client()

    first = asyncio.run(job(1))
    second = asyncio.run(job(10))
    assert first == ({"echo": {"n": 1}, "version": "v1"}, {"echo": {"n": 2}, "version": "v1"}, True)
    assert second[0] == {"echo": {"n": 10}, "version": "v1"}
    assert seen[0] is not seen[1], "a client must never be reused on another loop"
    assert seen[0].closed, "asyncio.run's shutdown closes the default client"
    assert seen[1].closed
    assert env.emulator.stats.tasks_created == 4


async def test_explicit_client_argument_and_set_default_client(env: LoopbackServer) -> None:
    async with env.client() as mine:
        assert (await speedpix_async.run("wf-echo", {"a": 1}, client=mine))["echo"] == {"a": 1}
        speedpix_async.set_default_client(mine)
        try:
            assert speedpix_async.get_default_client() is mine
            assert (await speedpix_async.run("wf-echo", {"b": 2}))["echo"] == {"b": 2}
        finally:
            speedpix_async.set_default_client(None)
    with pytest.raises(ConfigurationError, match="AsyncSpeedPix"):
        speedpix_async.set_default_client("client")  # type: ignore[arg-type]


def test_module_level_run_without_credentials_names_the_variables() -> None:
    with pytest.raises(ConfigurationError, match="SPEEDPIX_APP_KEY"):
        asyncio.run(speedpix_async.run("wf-echo", {}))
