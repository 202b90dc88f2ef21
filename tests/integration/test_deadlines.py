"""``timeout=`` bounds the whole call — uploads, submit, polls, result fetch, callbacks — and a
server that stops answering during a wait is named as such."""

from __future__ import annotations

import base64
import logging
import re
from typing import Any

import anyio
import pytest

from speedpix_async import (
    APIConnectionError,
    PredictionTimeoutError,
    Progress,
    SubmitOutcomeUnknownError,
    SubmitTimeoutError,
)
from speedpix_async.emulator import Emulator
from tests.conftest import FAST_POLL, FAST_RETRY

#: The loopback tests here are part of the transport suite (run once per HTTP backend).
pytestmark = pytest.mark.backends

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def slow_emulator() -> Emulator:
    # A "slow" fault holds its response far beyond every deadline used below.
    return Emulator(time_scale=0.1, slow_seconds=30.0)


async def test_the_deadline_covers_uploads_and_nothing_is_submitted(
    slow_emulator: Emulator,
) -> None:
    slow_emulator.faults.script("slow", route="/_store:PUT")
    async with slow_emulator.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as client:
        with pytest.raises(PredictionTimeoutError, match="nothing was submitted") as info:
            await client.run("wf-echo", {"image": PNG}, timeout=0.5)
    assert info.value.task_id is None
    assert not isinstance(info.value, SubmitOutcomeUnknownError)
    assert slow_emulator.stats.tasks_created == 0


async def test_a_deadline_during_the_submit_says_the_task_may_exist(
    slow_emulator: Emulator,
) -> None:
    slow_emulator.faults.script("slow", route="/scc/comfy_prompt", phase="after")
    async with slow_emulator.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as client:
        with pytest.raises(SubmitTimeoutError, match="may or may not exist") as info:
            await client.run("wf-echo", {"n": 1}, timeout=0.5)
    error = info.value
    assert isinstance(error, SubmitOutcomeUnknownError)
    assert isinstance(error, PredictionTimeoutError)
    assert (error.workflow_id, error.task_id, error.timeout) == ("wf-echo", None, 0.5)
    stats = slow_emulator.stats.snapshot()
    assert stats["tasks_created"]["total"] == 1  # it did exist…
    assert stats["requests"]["by_route"]["/scc/comfy_prompt"] == 1  # …and was never resent


async def test_the_deadline_covers_awaited_progress_callbacks(emulator: Emulator) -> None:
    reports: list[Progress] = []

    async def slow_callback(report: Progress) -> None:
        reports.append(report)
        await anyio.sleep(30)

    async with emulator.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as client:
        with pytest.raises(PredictionTimeoutError) as info:
            await client.run(
                "wf-echo", {"n": 1}, timeout=0.5, on_progress=slow_callback, polling_interval=0.05
            )
    assert len(reports) == 1
    assert info.value.task_id is not None  # the task exists: resume it by id
    assert not info.value.server_unreachable


async def test_the_deadline_covers_the_result_fetch(slow_emulator: Emulator) -> None:
    slow_emulator.faults.script("slow", route="/scc/comfy_get_result", times=5)
    async with slow_emulator.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as client:
        with pytest.raises(PredictionTimeoutError) as info:
            await client.run("wf-echo", {"n": 1}, timeout=1.0)
        task_id = info.value.task_id
        assert task_id is not None
        slow_emulator.faults.clear()
        final = await client.predictions.wait(task_id, timeout=10)
    assert final.output["echo"] == {"n": 1}


@pytest.mark.loopback
async def test_a_server_that_stops_answering_is_named_in_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="speedpix_async")
    emulator = Emulator(time_scale=1.0)
    server = emulator.serve()
    server.start()
    endpoint = server.endpoint
    try:
        async with server.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as client:
            handle = await client.run("wf-sleep", {"seconds": 60}, wait=False)
            server.stop()
            with pytest.raises(PredictionTimeoutError) as info:
                await handle.wait(timeout=1.0, polling_interval=0.05)
    finally:
        server.stop()
    error = info.value
    assert error.server_unreachable
    assert error.task_id == handle.id
    assert isinstance(error.__cause__, APIConnectionError)
    assert endpoint in str(error)
    assert "could not be reached" in str(error)
    assert "keeps running" not in str(error)  # not the "still running fine" wording
    assert "last reported it 'waiting'" in str(error), "what was last heard, and when"
    warnings: list[Any] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    # Warned as the third attempt failed — inside the first poll, whose retries count too.
    assert "has not answered the last 3 attempts" in warnings[0].getMessage()


@pytest.mark.parametrize("fault", ["slow", "reset"], ids=["never-answers", "resets"])
async def test_a_server_that_stops_answering_mid_wait_is_reported_as_unreachable(
    slow_emulator: Emulator, caplog: pytest.LogCaptureFixture, http_backend: str, fault: str
) -> None:
    caplog.set_level(logging.WARNING, logger="speedpix_async")
    with slow_emulator.serve() as server:
        async with server.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as client:
            handle = await client.run("wf-sleep", {"seconds": 600}, wait=False)
            # From now on every poll hangs (accepted, never answered) or is reset.
            server.emulator.faults.script(fault, route="/scc/comfy_get_progress", times=10_000)
            with pytest.raises(PredictionTimeoutError) as info:
                await handle.wait(timeout=1.5, polling_interval=0.05)
    error = info.value
    assert error.server_unreachable
    assert isinstance(error.__cause__, APIConnectionError), "the last transport error"
    text = str(error)
    assert "could not be reached" in text
    assert f"{server.endpoint}/scc/comfy_get_progress" in text
    assert "last reported it 'waiting'" in text
    assert "keeps running" not in text, "the server was not heard, so nothing is claimed"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "has not answered the last" in warnings[0]


async def test_a_deadline_before_any_poll_says_what_the_submit_said_and_when(
    client: Any,
) -> None:
    with pytest.raises(PredictionTimeoutError) as info:
        await client.run("wf-sleep", {"seconds": 600}, timeout=1.0)
    text = str(info.value)
    assert not info.value.server_unreachable
    assert re.search(r"last reported it 'waiting' 1\.\ds ago, so it keeps running there", text)
