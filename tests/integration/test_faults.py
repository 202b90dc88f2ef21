"""Each fault kind on each route is survived or surfaces as the documented typed error."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import anyio
import pytest

from speedpix_async import AsyncSpeedPix, RetryPolicy, SubmitOutcomeUnknownError
from speedpix_async.emulator import Emulator, LoopbackServer
from speedpix_async.emulator._faults import FAULT_KINDS
from tests.conftest import FAST_POLL

pytestmark = [pytest.mark.loopback, pytest.mark.backends]

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SLOW = 0.6
CLIENT_TIMEOUT = 0.25
ROUTES = {
    "upload-sign": "/scc/sp_create_temp_file_upload_sign",
    "upload-put": "/_store:PUT",
    "progress": "/scc/comfy_get_progress",
    "result": "/scc/comfy_get_result",
    "download": "/_store:GET",
}
NOT_ON_STORE = {"malformed", "envelope"}


@pytest.fixture
def faulty() -> Iterator[LoopbackServer]:
    emulator = Emulator(time_scale=0.05, slow_seconds=SLOW)
    with emulator, emulator.serve() as server:
        yield server


def client_for(server: LoopbackServer) -> AsyncSpeedPix:
    return server.client(
        timeout=CLIENT_TIMEOUT,
        retry_policy=RetryPolicy(initial_delay=0.0, max_delay=0.0, jitter=0.0),
        poll_policy=FAST_POLL,
    )


async def scenario(client: AsyncSpeedPix) -> None:
    """One prediction touching every route: upload-sign, PUT, prompt, progress, result, GET."""
    handle = await client.predictions.create("wf-echo", {"image": PNG, "n": 1})
    await handle.reload()  # a progress request (wait() itself may go straight to the result)
    output = (await handle.wait()).output
    assert await output["echo"]["image"].read() == PNG


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("route", list(ROUTES))
async def test_faults_on_idempotent_routes_are_survived(
    faulty: LoopbackServer, route: str, kind: str
) -> None:
    faulty.emulator.faults.script(kind, route=ROUTES[route])
    async with client_for(faulty) as client:
        await scenario(client)
    stats = faulty.emulator.stats.snapshot()
    applicable = not (route in ("upload-put", "download") and kind in NOT_ON_STORE)
    assert stats["faults_injected"]["by_kind"].get(kind, 0) == (1 if applicable else 0)
    assert stats["tasks_created"]["total"] == 1


@pytest.mark.parametrize("kind", ["throttle", "unavailable", "envelope"])
async def test_rejected_submits_are_retried_and_create_one_task(
    faulty: LoopbackServer, kind: str
) -> None:
    faulty.emulator.faults.script(kind, route="/scc/comfy_prompt", times=2)
    async with client_for(faulty) as client:
        await scenario(client)
    stats = faulty.emulator.stats.snapshot()
    assert stats["faults_injected"]["by_kind"][kind] == 2
    assert stats["requests"]["by_route"]["/scc/comfy_prompt"] == 3
    assert stats["tasks_created"]["total"] == 1


@pytest.mark.parametrize("kind", ["reset", "malformed", "slow"])
@pytest.mark.parametrize("phase", ["before", "after"])
async def test_a_lost_submit_answer_is_reported_never_resent(
    faulty: LoopbackServer, kind: str, phase: str
) -> None:
    faulty.emulator.faults.script(kind, route="/scc/comfy_prompt", phase=phase)
    async with client_for(faulty) as client:
        with pytest.raises(SubmitOutcomeUnknownError) as info:
            await client.run("wf-echo", {"n": 1})
    err = info.value
    assert err.workflow_id == "wf-echo"
    assert err.attempts == 1
    assert "did not submit again" in str(err)
    stats = faulty.emulator.stats
    assert stats.snapshot()["requests"]["by_route"]["/scc/comfy_prompt"] == 1  # never resent
    if kind == "slow":
        await anyio.sleep(SLOW + 0.2)  # a held request still goes through once the client gave up
        assert stats.tasks_created == 1
    else:
        assert stats.tasks_created == (1 if phase == "after" else 0)


@pytest.mark.parametrize("route", ["/scc/comfy_get_progress", "/scc/comfy_get_result"])
async def test_waiting_survives_a_burst_of_503s(faulty: LoopbackServer, route: str) -> None:
    # More 503s in a row than the transport retries (4): the wait itself must outlast them.
    faulty.emulator.faults.script("unavailable", route=route, times=25)
    async with client_for(faulty) as client:
        output = await client.run("wf-sleep", {"seconds": 2}, polling_interval=0.05)
    assert output == {"slept": 2}
    stats = faulty.emulator.stats.snapshot()
    assert stats["faults_injected"]["by_kind"]["unavailable"] == 25
    assert stats["tasks_created"]["total"] == 1


async def test_a_skewed_clock_recovers_and_stays_corrected(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    emulator = Emulator(time_scale=0.05, clock_skew=3600.0)  # the gateway is an hour ahead
    with emulator, emulator.serve() as server:
        async with client_for(server) as client:
            assert (await client.run("wf-echo", {"a": 1}))["echo"] == {"a": 1}
            assert (await client.run("wf-echo", {"a": 2}))["echo"] == {"a": 2}
        stats = emulator.stats.snapshot()
    learned = [r.getMessage() for r in debug_log.records if "clock offset now" in r.getMessage()]
    assert len(learned) == 1
    offset = float(learned[0].split("clock offset now ")[1].split("s")[0])
    assert offset == pytest.approx(3600.0, abs=2.0)
    # One rejection taught the client the offset; everything after was signed correctly.
    assert stats["auth_rejections"]["by_reason"] == {"timestamp_expired": 1}
    assert stats["tasks_created"]["total"] == 2


async def test_random_faults_are_reproducible_with_a_seed() -> None:
    counts = []
    for _ in range(2):
        emulator = Emulator(
            time_scale=0.05,
            fault_rate=0.3,
            fault_seed=7,
            fault_kinds=["throttle", "unavailable", "envelope"],
        )
        with emulator, emulator.serve() as server:
            async with client_for(server) as client:
                for n in range(5):
                    await client.run("wf-echo", {"n": n})
            counts.append(emulator.stats.snapshot()["faults_injected"]["by_kind"])
    assert counts[0] == counts[1]
    assert sum(counts[0].values()) > 0


def test_fault_configuration_is_validated() -> None:
    emulator = Emulator()
    with pytest.raises(ValueError, match="within"):
        emulator.faults.configure(rate=1.5)
    with pytest.raises(ValueError, match="some of"):
        emulator.faults.configure(kinds=["flood"])
    with pytest.raises(ValueError, match="cannot strike after"):
        emulator.faults.script("throttle", phase="after")
    emulator.close()
