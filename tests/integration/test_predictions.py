"""Predictions end to end against the emulator: lifecycle, failures, deadlines, resuming."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

import pytest

from speedpix_async import (
    AsyncSpeedPix,
    InputError,
    NotFoundError,
    PollPolicy,
    PredictionError,
    PredictionFailedError,
    PredictionTimeoutError,
    Progress,
    ServerError,
    SpeedPixException,
    TaskStatus,
    UnsupportedOperationError,
)
from speedpix_async.emulator import Emulator, LoopbackServer
from tests._proxies import Proxy
from tests.conftest import FAST_POLL, FAST_RETRY

#: The loopback tests here are part of the transport suite (run once per HTTP backend).
pytestmark = pytest.mark.backends


def _distinct(statuses: list[str]) -> list[str]:
    out: list[str] = []
    for status in statuses:
        if not out or out[-1] != status:
            out.append(status)
    return out


@pytest.mark.loopback
async def test_full_lifecycle_over_a_real_socket() -> None:
    emulator = Emulator(time_scale=1.0)
    with emulator.serve() as server:
        assert server.endpoint.startswith("http://127.0.0.1:")
        reports: list[Progress] = []
        async with server.client(retry_policy=FAST_RETRY) as client:
            output = await client.run(
                "wf-sleep",
                {"seconds": 0.6},
                polling_interval=0.05,
                on_progress=reports.append,
            )
    assert output == {"slept": 0.6}
    assert _distinct([str(r.status) for r in reports]) == ["waiting", "running", "succeeded"]
    # The first report is the submit's answer (a watched wait says at once what it knows).
    assert reports[0].message == "submitted"
    assert reports[0].eta is not None
    assert reports[0].eta > 0.6
    waiting = [r for r in reports[1:] if r.status == TaskStatus.WAITING]
    running = [r for r in reports if r.status == TaskStatus.RUNNING]
    assert all(r.queue_position is not None and r.progress == 0 for r in waiting)
    progress = [r.progress for r in running]
    assert progress == sorted(progress)
    assert 0 < progress[-1] < 1
    etas = [r.eta for r in reports if r.eta is not None]
    assert etas == sorted(etas, reverse=True)
    assert etas[-1] == 0
    assert reports[-1].progress == 1.0
    stats = emulator.stats.snapshot()
    assert stats["tasks_created"]["by_workflow"] == {"wf-sleep": 1}
    assert stats["requests"]["by_route"]["/scc/comfy_get_result"] == 1


@pytest.mark.loopback
async def test_stats_are_served_to_loopback_clients(
    server: LoopbackServer, loopback_client: AsyncSpeedPix
) -> None:
    import httpx

    await loopback_client.run("wf-echo", {"a": 1})
    async with httpx.AsyncClient() as raw:
        stats = (await raw.get(f"{server.endpoint}/_emulator/stats")).json()
    assert stats["tasks_created"] == {"total": 1, "by_workflow": {"wf-echo": 1}}
    assert stats["requests"]["by_route"]["/scc/comfy_prompt"] == 1
    assert stats["faults_injected"]["total"] == 0
    assert stats["auth_rejections"]["total"] == 0


async def test_wait_returns_a_complete_snapshot(client: AsyncSpeedPix) -> None:
    handle = await client.predictions.create("wf-echo", {"word": "hi"})
    assert handle.status == TaskStatus.WAITING
    assert handle.prediction.estimated_duration is not None
    assert handle.prediction.created_at is not None
    final = await handle.wait()
    assert final.succeeded
    assert final.done
    assert not final.failed
    assert final.output == {"echo": {"word": "hi"}, "version": "v1"}
    assert final.workflow_id == "wf-echo"
    assert final.alias_id == "main"
    assert final.task_duration_ms is not None
    assert final.task_duration_ms > 0
    assert isinstance(final.started_at, dt.datetime)
    assert isinstance(final.completed_at, dt.datetime)
    assert final.started_at <= final.completed_at
    assert final.api_invoke_id
    assert final.api_invoke_id.startswith("i_")
    assert handle.output == final.output


async def test_alias_and_version_select_what_runs(client: AsyncSpeedPix) -> None:
    assert (await client.run("wf-echo", {}))["version"] == "v1"
    assert (await client.run("wf-echo", {}, alias_id="beta"))["version"] == "v2"
    assert (await client.run("wf-echo", {}, version_id="v2"))["version"] == "v2"
    with pytest.raises(NotFoundError) as info:
        await client.run("wf-echo", {}, version_id="v9")
    assert info.value.err_code == "WorkflowVersionNotFound"


async def test_unknown_workflow_is_a_not_found_with_all_codes(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.run("wf-missing", {})
    err = info.value
    assert err.status == 20
    assert err.err_code == "WorkflowNotFound"
    # The emulator names what it has, so a typo is found without reading its source.
    assert "this emulator has: " in str(err)
    assert "wf-echo" in str(err)
    assert "wf-white-background" in str(err)
    assert err.api_invoke_id
    assert err.request_id
    assert err.status_code == 200
    assert emulator.stats.tasks_created == 0


@pytest.mark.parametrize("style", ["envelope", "data"])
async def test_failed_task_raises_prediction_failed(client: AsyncSpeedPix, style: str) -> None:
    with pytest.raises(PredictionFailedError) as info:
        await client.run("wf-fail", {"style": style, "message": "out of GPU memory", "code": "OOM"})
    err = info.value
    assert err.prediction.status == TaskStatus.FAILED
    assert err.prediction.error == "out of GPU memory"
    assert "out of GPU memory" in str(err)
    assert err.prediction.workflow_id == "wf-fail"
    assert err.api_invoke_id
    assert err.api_invoke_id.startswith("i_")
    if style == "envelope":
        assert err.error_code == "OOM"
    # The official SDK's names still work.
    assert isinstance(err, PredictionError)
    assert isinstance(err, SpeedPixException)


async def test_a_failure_code_that_sounds_transient_is_still_a_failure(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    with pytest.raises(PredictionFailedError) as info:
        await client.run("wf-fail", {"code": "InternalError"})
    assert info.value.error_code == "InternalError"
    # Exactly one result call: the failure was not mistaken for a busy server and retried.
    assert emulator.stats.snapshot()["requests"]["by_route"]["/scc/comfy_get_result"] == 1


async def test_deadline_then_resume(client: AsyncSpeedPix) -> None:
    handle = await client.predictions.create("wf-sleep", {"seconds": 5})  # 0.5 s at test scale
    with pytest.raises(PredictionTimeoutError) as info:
        await handle.wait(timeout=0.05)
    err = info.value
    assert err.task_id == handle.id
    assert err.timeout == 0.05
    assert err.last_status in ("waiting", "running")
    assert f"client.predictions.wait({handle.id!r})" in str(err)
    assert isinstance(err, TimeoutError)
    resumed = await client.predictions.wait(err.task_id, timeout=10)
    assert resumed.output == {"slept": 5}


async def test_wait_false_returns_a_handle_to_resume(client: AsyncSpeedPix) -> None:
    handle = await client.run("wf-sleep", {"seconds": 1}, wait=False)
    assert handle.id
    assert handle.status == TaskStatus.WAITING
    final = await client.predictions.wait(handle.id)
    assert final.output == {"slept": 1}
    again = await client.predictions.result(handle.id)
    assert again.output == {"slept": 1}


async def test_get_and_reload_report_progress_without_output(client: AsyncSpeedPix) -> None:
    handle = await client.predictions.create("wf-sleep", {"seconds": 3})
    snapshot = await client.predictions.get(handle.id)
    assert snapshot.id == handle.id
    assert snapshot.output is None
    assert snapshot.status in (TaskStatus.WAITING, TaskStatus.RUNNING)
    reloaded = await handle.reload()
    assert reloaded.workflow_id == "wf-sleep"
    assert handle.prediction is reloaded


async def test_watch_yields_until_terminal(client: AsyncSpeedPix) -> None:
    handle = await client.predictions.create("wf-sleep", {"seconds": 2})
    seen = [report async for report in handle.watch(polling_interval=0.05)]
    assert seen[-1].status == TaskStatus.SUCCEEDED
    assert all(not r.status.is_terminal for r in seen[:-1])
    assert len(seen) >= 2


async def test_watch_stops_at_its_deadline(client: AsyncSpeedPix) -> None:
    handle = await client.predictions.create("wf-sleep", {"seconds": 50})
    seen: list[Progress] = []

    async def consume() -> None:
        async for report in handle.watch(timeout=0.1, polling_interval=0.05):
            seen.append(report)

    with pytest.raises(PredictionTimeoutError):
        await consume()
    assert seen
    assert not seen[-1].status.is_terminal


async def test_async_progress_callbacks_are_awaited(client: AsyncSpeedPix) -> None:
    seen: list[str] = []

    async def record(report: Progress) -> None:
        seen.append(str(report.status))

    await client.run("wf-echo", {}, on_progress=record, polling_interval=0.05)
    assert seen
    assert seen[-1] == "succeeded"


async def test_cancel_and_list_are_refused_without_a_request(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    handle = await client.predictions.create("wf-sleep", {"seconds": 1})
    before = emulator.stats.snapshot()["requests"]["total"]
    with pytest.raises(UnsupportedOperationError, match="no cancel endpoint"):
        await client.predictions.cancel(handle.id)
    with pytest.raises(UnsupportedOperationError, match="no cancel endpoint"):
        await handle.cancel()
    with pytest.raises(UnsupportedOperationError, match="no list endpoint"):
        await client.predictions.list()
    assert emulator.stats.snapshot()["requests"]["total"] == before
    # Nothing pretends the task stopped.
    assert (await handle.wait()).succeeded


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"workflow_id": ""}, "workflow_id must be a non-empty string"),
        ({"workflow_id": " wf-echo"}, "whitespace"),
        ({"alias_id": "main", "version_id": "v1"}, "either alias_id or version_id"),
        ({"input": ["not", "a", "dict"]}, "input must be a dict"),
        ({"input": {"when": dt.datetime(2024, 1, 1)}}, 'input["when"] is a datetime'),
        ({"input": {"deep": [1, {"x": float("nan")}]}}, 'input["deep"][1]["x"] is nan'),
        ({"input": {1: "x"}}, "keys must be strings"),
        ({"timeout": -1}, "timeout must be a finite number of seconds > 0"),
        ({"polling_interval": 0}, "polling_interval"),
        ({"on_progress": "print"}, "on_progress must be a function"),
        ({"file_encoding_strategy": "zip"}, "'url' or 'base64'"),
        ({"randomise_seeds": "yes"}, "randomise_seeds must be True, False or None"),
        ({"resource_config_id": "a, b"}, "without spaces"),
        ({"wait": "no"}, "wait must be True or False"),
    ],
)
async def test_bad_arguments_fail_before_anything_is_sent(
    client: AsyncSpeedPix, emulator: Emulator, kwargs: dict[str, object], fragment: str
) -> None:
    call: dict[str, object] = {"workflow_id": "wf-echo", "input": {}}
    call.update(kwargs)
    with pytest.raises(InputError) as info:
        await client.run(**call)  # type: ignore[call-overload]
    assert fragment in str(info.value)
    assert emulator.stats.snapshot()["requests"]["total"] == 0


async def test_with_options_shares_the_pool(emulator: Emulator) -> None:
    pool = Proxy(emulator.transport())
    async with emulator.client(
        transport=pool, retry_policy=FAST_RETRY, poll_policy=FAST_POLL
    ) as client:
        fast = client.with_options(max_retries=0, timeout=5)
        assert (await fast.run("wf-echo", {"a": 1}))["echo"] == {"a": 1}
        sent = len(pool.requests)
        assert sent >= 2  # the derived client's requests went through the shared pool
        # max_retries=0: one 503 is final for the derived client, retried by the parent.
        emulator.faults.script("unavailable", route="/scc/comfy_get_progress")
        with pytest.raises(ServerError):
            await fast.predictions.get("12345")
        assert len(pool.requests) == sent + 1
        emulator.faults.script("unavailable", route="/scc/comfy_get_progress")
        with pytest.raises(NotFoundError):
            await client.predictions.get("12345")
        assert len(pool.requests) == sent + 3
        await fast.aclose()
        assert not client.closed
        assert (await client.run("wf-echo", {"a": 2}))["echo"] == {"a": 2}


async def test_closed_client_says_so(emulator: Emulator) -> None:
    from speedpix_async import ConfigurationError

    client = emulator.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL)
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(ConfigurationError, match="closed"):
        await client.run("wf-echo", {})


async def test_two_waits_on_one_handle_both_get_the_result(client: AsyncSpeedPix) -> None:
    import anyio

    handle = await client.predictions.create("wf-sleep", {"seconds": 1})
    results: list[Any] = []

    async def wait_once() -> None:
        results.append((await handle.wait()).output)

    async with anyio.create_task_group() as group:
        group.start_soon(wait_once)
        group.start_soon(wait_once)
    assert results == [{"slept": 1}, {"slept": 1}]


async def test_progress_reads_as_one_line_and_the_last_report_says_succeeded(
    client: AsyncSpeedPix,
) -> None:
    seen: list[Progress] = []
    # No fixed interval: the wait polls at the ETA and may finish on the result call alone.
    await client.run("wf-sleep", {"seconds": 1}, on_progress=seen.append)
    last = seen[-1]
    assert last.status == TaskStatus.SUCCEEDED
    # Seen by the result call ("succeeded") or by a progress poll (the server's own word, the
    # emulator's "finished"): whichever came first, never the last "running …" text.
    assert last.message in ("succeeded", "finished")
    assert str(last) == "succeeded"
    running = Progress(task_id="1", status=TaskStatus.RUNNING, progress=0.5, eta=2.0)
    assert str(running) == "running 50% (~2.0 s left)"
    waiting = Progress(task_id="1", status=TaskStatus.WAITING, queue_position=3)
    assert str(waiting) == "waiting, 3 ahead"


#: Emulated time runs ten times faster here, so the watch cadence is scaled the same way: the
#: default "every second" becomes every 0.1 s (and an 8 s task takes 0.8 s).
SCALE = 0.1
WATCHED = PollPolicy(watch_interval=1.0 * SCALE, min_interval=0.05)


async def test_a_watched_task_reports_at_once_and_then_often_enough_for_a_display() -> None:
    emulator = Emulator(time_scale=SCALE)
    times: list[float] = []
    reports: list[Progress] = []

    def seen(report: Progress) -> None:
        times.append(time.monotonic())
        reports.append(report)

    async with emulator.client(retry_policy=FAST_RETRY, poll_policy=WATCHED) as client:
        started = time.monotonic()
        await client.run("wf-sleep", {"seconds": 8}, on_progress=seen)
    assert len(reports) >= 6, [str(r) for r in reports]
    assert times[0] - started < 1.0 * SCALE + 0.05, "the first report comes with the submit"
    assert reports[0].message == "submitted"
    running = [t for t, r in zip(times, reports, strict=True) if not r.status.is_terminal]
    gaps = [later - earlier for earlier, later in itertools.pairwise(running)]
    assert max(gaps) <= 2.5 * SCALE, gaps
    assert reports[-1].status == TaskStatus.SUCCEEDED


async def test_an_unwatched_task_costs_two_requests_whatever_its_length() -> None:
    """A submit and one result per task; the first long task of a workflow also takes one
    progress reading (to learn how wrong the estimates are), which the later ones share."""
    emulator = Emulator(time_scale=SCALE / 10)
    async with emulator.client(retry_policy=FAST_RETRY) as client:
        for seconds in (2, 30, 300, 300):
            await client.run("wf-sleep", {"seconds": seconds})
    requests = emulator.stats.snapshot()["requests"]
    routes = requests["by_route"]
    assert routes["/scc/comfy_prompt"] == 4, requests
    assert routes["/scc/comfy_get_result"] == 4, requests
    assert routes.get("/scc/comfy_get_progress", 0) <= 1, requests
    assert requests["total"] / 4 <= 2.25, requests
