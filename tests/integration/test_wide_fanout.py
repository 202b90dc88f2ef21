"""10,000 predictions at once through one client with default settings, against an emulator in
its own process (as the fan-out benchmark runs it): every one succeeds, none is submitted
twice, each costs two requests, and the client keeps to its connection pool. The figures of
such runs (wall time, CPU per request) are benchmarks (docs/performance.md), not assertions.

It needs both cores for most of a minute, so the default run leaves it out and CI runs it
alone: ``python -m pytest -m wide``."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from speedpix_async import AsyncSpeedPix

pytestmark = [pytest.mark.loopback, pytest.mark.wide]

N = 10_000


@pytest.fixture
def endpoint() -> Iterator[str]:
    """An emulator in another process on a free loopback port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEEDPIX_")}
    command = [sys.executable, "-m", "speedpix_async.emulator", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        first = process.stdout.readline().strip().removeprefix("export ")
        assert first.startswith("SPEEDPIX_ENDPOINT="), first
        try:
            yield first.split("=", 1)[1]
        finally:
            process.terminate()
            process.communicate(timeout=30)


def open_sockets() -> int:
    """Sockets this process has open (Linux /proc; 0 elsewhere)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    count = 0
    for name in names:
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
    return count


def stats(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_emulator/stats", timeout=10) as answer:
        data: dict[str, Any] = json.load(answer)
        return data


async def test_ten_thousand_predictions_at_once(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPEEDPIX_HTTP_BACKEND", raising=False)
    inputs = ({"seconds": 0.5, "i": i} for i in range(N))
    seen: set[int] = set()
    failures = []
    baseline = open_sockets()
    peak = baseline
    async with AsyncSpeedPix("demo-app-key", "demo-app-secret", endpoint=endpoint) as client:
        async with anyio.create_task_group() as watcher:

            async def sample() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, open_sockets())
                    await anyio.sleep(0.05)

            watcher.start_soon(sample)
            async for result in client.run_many("wf-sleep", inputs, concurrency=N):
                seen.add(result.index)
                if not result.ok:
                    failures.append(result.error)
                else:
                    assert result.output == {"slept": 0.5}
            watcher.cancel_scope.cancel()
        backend = client.http_backend
    assert failures == []
    assert seen == set(range(N))
    served = stats(endpoint)
    assert served["tasks_created"]["total"] == N  # nothing submitted twice
    routes = served["requests"]["by_route"]
    assert routes["/scc/comfy_prompt"] == N
    assert routes.get("/scc/comfy_get_progress", 0) + routes["/scc/comfy_get_result"] <= 1.1 * N
    assert peak - baseline <= 64  # the pool's size, whatever the fan-out
    assert backend in ("aiohttp", "httpx")  # "auto" decided at the first request
