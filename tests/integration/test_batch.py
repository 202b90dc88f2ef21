"""``client.run_many``: bounded fan-out, completion order, errors as values, laziness, cleanup."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import attrs
import httpx
import pytest

from speedpix_async import (
    AsyncSpeedPix,
    BadRequestError,
    BatchResult,
    InputError,
    PredictionFailedError,
    SpeedPix,
)
from speedpix_async._config import DEFAULT_MAX_CONNECTIONS
from speedpix_async.emulator import Emulator, LoopbackServer
from tests._proxies import InFlight
from tests.conftest import FAST_POLL, FAST_RETRY

#: The loopback tests here are part of the transport suite (run once per HTTP backend).
pytestmark = pytest.mark.backends


async def test_one_failing_input_loses_nothing(client: AsyncSpeedPix, emulator: Emulator) -> None:
    inputs: list[dict[str, Any]] = [
        {"seconds": 3},
        {"seconds": "three"},
        {"seconds": 1},
        {"seconds": 2},
    ]
    results = [r async for r in client.run_many("wf-sleep", inputs, concurrency=4)]
    assert sorted(r.index for r in results) == [0, 1, 2, 3]
    by_index = {r.index: r for r in results}
    assert [r.index for r in results][-1] == 0, "the longest task finishes last"
    failed = by_index[1]
    assert not failed.ok
    assert isinstance(failed.error, BadRequestError)
    assert failed.input == {"seconds": "three"}
    assert failed.prediction is None  # no task was created for it
    for index in (0, 2, 3):
        result = by_index[index]
        assert result.ok
        assert result.output == {"slept": inputs[index]["seconds"]}
        assert result.prediction is not None
        assert result.prediction.succeeded
    assert emulator.stats.tasks_created == 3


async def test_an_input_that_is_an_exception_is_that_inputs_error_and_sends_nothing(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    unreadable = InputError("in.jsonl:2: not JSON")
    inputs: list[Any] = [{"value": 1}, unreadable, {"value": 3}]
    results = {r.index: r async for r in client.run_many("wf-echo", inputs)}
    assert results[1].error is unreadable
    assert results[1].prediction is None
    assert results[0].ok
    assert results[2].ok
    assert emulator.stats.tasks_created == 2


async def test_failed_tasks_carry_their_prediction(client: AsyncSpeedPix) -> None:
    results = [
        r async for r in client.run_many("wf-fail", [{"message": "boom"}, {"message": "bang"}])
    ]
    assert all(isinstance(r.error, PredictionFailedError) for r in results)
    assert {r.prediction.error for r in results if r.prediction} == {"boom", "bang"}


async def test_at_most_concurrency_predictions_at_once(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    peak = 0
    seen = 0

    async def inputs() -> AsyncIterator[dict[str, Any]]:
        for n in range(12):
            yield {"seconds": 1, "n": n}

    def track(report: Any) -> None:
        nonlocal peak
        # Submitted on the server, not yet handed to the caller: in flight.
        peak = max(peak, emulator.stats.tasks_created - seen)

    async for result in client.run_many("wf-sleep", inputs(), concurrency=3, on_progress=track):
        assert result.ok
        seen += 1
    assert seen == 12
    assert 1 <= peak <= 3


async def test_inputs_are_consumed_lazily(client: AsyncSpeedPix) -> None:
    pulled = 0

    def endless() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for n in range(100_000):
            pulled += 1
            yield {"n": n}

    async with client.run_many("wf-echo", endless(), concurrency=4) as results:
        got = []
        async for result in results:
            got.append(result)
            if len(got) == 3:
                break
    assert len(got) == 3
    # 4 running at first, one more per result taken, and at most one more that a freed slot
    # let in while the batch was being closed.
    assert pulled <= 4 + 3 + 1, f"pulled {pulled} inputs for 3 results"


@attrs.frozen
class Echo:
    echo: dict[str, int]
    version: str


async def test_typed_outputs_and_async_inputs(client: AsyncSpeedPix) -> None:
    async def inputs() -> AsyncIterator[dict[str, int]]:
        for n in range(3):
            yield {"n": n}

    results = [r async for r in client.run_many("wf-echo", inputs(), output_type=Echo)]
    assert sorted(r.output.echo["n"] for r in results) == [0, 1, 2]
    assert all(isinstance(r.output, Echo) for r in results)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"concurrency": 0}, "concurrency must be an int >= 1"),
        ({"concurrency": 2.5}, "concurrency must be an int >= 1"),
        ({"inputs": "abc"}, "inputs must be an iterable"),
        ({"inputs": {"a": 1}}, "inputs must be an iterable"),
        ({"timeout": -3}, "timeout"),
        ({"workflow_id": ""}, "workflow_id"),
    ],
)
async def test_bad_arguments_fail_before_anything_is_sent(
    client: AsyncSpeedPix, emulator: Emulator, kwargs: dict[str, Any], fragment: str
) -> None:
    call: dict[str, Any] = {"workflow_id": "wf-echo", "inputs": [{}]}
    call.update(kwargs)
    with pytest.raises(InputError, match=fragment):
        client.run_many(**call)
    assert emulator.stats.snapshot()["requests"]["total"] == 0


@pytest.mark.loopback
async def test_cancelling_a_batch_starts_nothing_more_in_the_slots_it_frees(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    # Cancelling the consumer's task (as Ctrl-C does to asyncio.run's main task) cancels the
    # running predictions, which frees their slots: the feeder must not start the next inputs
    # in them, nor may the batch wait for those.
    inputs = [{"seconds": 600, "n": n} for n in range(6)]

    async def consume() -> None:
        async for _ in client.run_many("wf-sleep", inputs, concurrency=2):
            raise AssertionError("no 600 s task ends here")

    consumer = asyncio.create_task(consume())
    with anyio.fail_after(10):
        for _ in range(1000):  # until both first inputs are submitted
            if emulator.stats.tasks_created == 2:
                break
            await asyncio.sleep(0.01)
        consumer.cancel()
        # A batch that waits on predictions started late never returns.
        await asyncio.wait([consumer])
    assert consumer.cancelled()
    assert emulator.stats.tasks_created == 2
    await asyncio.sleep(0.05)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == [], f"leaked tasks: {others}"


async def test_cancelling_leaves_no_tasks_no_busy_connections_and_no_polls(
    server: LoopbackServer,
) -> None:
    pool = InFlight(httpx.AsyncHTTPTransport())
    async with server.client(
        transport=pool, retry_policy=FAST_RETRY, poll_policy=FAST_POLL
    ) as client:
        inputs = [{"seconds": 0.2 if n < 2 else 60} for n in range(10)]
        got: list[BatchResult] = []
        with anyio.move_on_after(0.5 + 0.3):
            async for result in client.run_many(
                "wf-sleep", inputs, concurrency=10, polling_interval=0.05
            ):
                got.append(result)
        assert len(got) == 2
        assert all(r.ok for r in got)
        await asyncio.sleep(0.05)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == [], f"leaked tasks: {others}"
        assert pool.started > 10
        assert pool.in_flight == 0, "a cancelled request still holds a connection"
        polls = server.emulator.stats.snapshot()["requests"]["by_route"]["/scc/comfy_get_progress"]
        await asyncio.sleep(0.3)
        assert (
            server.emulator.stats.snapshot()["requests"]["by_route"]["/scc/comfy_get_progress"]
            == polls
        )
    assert server.emulator.stats.tasks_created == 10


@pytest.mark.loopback
async def test_a_batch_wider_than_the_pool_shares_the_clients_connections(
    server: LoopbackServer, http_backend: str
) -> None:
    server.emulator.stats.reset()
    async with server.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as client:
        assert client.http_backend == http_backend
        wide = 3 * DEFAULT_MAX_CONNECTIONS
        inputs = ({"seconds": 0.5, "n": n} for n in range(wide))
        results = [r async for r in client.run_many("wf-sleep", inputs, concurrency=wide)]
        assert len(results) == wide
        assert all(r.ok for r in results)
        assert not client.closed
    snapshot = server.emulator.stats.snapshot()
    assert snapshot["tasks_created"]["total"] == wide
    # Connections are sized to throughput: never more than the client's pool, however wide.
    assert 1 <= snapshot["client_connections"] <= DEFAULT_MAX_CONNECTIONS


@pytest.mark.loopback
def test_blocking_run_many_is_an_iterator_that_stops_cleanly(server: LoopbackServer) -> None:
    with SpeedPix(
        server.emulator.app_key,
        server.emulator.app_secret,
        endpoint=server.endpoint,
        poll_policy=FAST_POLL,
    ) as client:
        results = list(client.run_many("wf-echo", [{"n": n} for n in range(6)], concurrency=3))
        assert sorted(r.output["echo"]["n"] for r in results) == list(range(6))
        with client.run_many(
            "wf-sleep",
            [{"seconds": 0.1}] + [{"seconds": 60}] * 4,
            concurrency=5,
            polling_interval=0.05,
        ) as batch:
            first = next(batch)
        assert first.ok
        # A poll already on the wire when the batch stopped may still reach the server; after
        # that, with a 0.05 s interval, any poll still going would show within 0.3 s.
        time.sleep(0.1)
        polls = server.emulator.stats.snapshot()["requests"]["by_route"]["/scc/comfy_get_progress"]
        time.sleep(0.3)
        assert (
            server.emulator.stats.snapshot()["requests"]["by_route"]["/scc/comfy_get_progress"]
            == polls
        )


async def test_an_input_iterator_that_raises_surfaces_its_own_error(client: AsyncSpeedPix) -> None:
    closed = []

    def inputs() -> Iterator[dict[str, Any]]:
        try:
            yield {"n": 1}
            raise LookupError("the input source broke")
        finally:
            closed.append(True)

    async def consume() -> list[BatchResult]:
        return [result async for result in client.run_many("wf-echo", inputs(), concurrency=2)]

    with pytest.raises(LookupError, match="the input source broke"):
        await consume()
    assert closed == [True]


async def test_work_submitted_before_the_input_iterator_breaks_is_delivered(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    async def inputs() -> AsyncIterator[dict[str, Any]]:
        for n in range(3):
            yield {"seconds": 1 + n, "n": n}
        raise LookupError("the input source broke")

    delivered: list[BatchResult] = []

    async def consume() -> None:
        async for result in client.run_many("wf-sleep", inputs(), concurrency=8):
            delivered.append(result)

    with pytest.raises(LookupError, match="the input source broke") as caught:
        await consume()
    assert sorted(r.index for r in delivered) == [0, 1, 2]
    assert all(r.ok and r.prediction is not None and r.prediction.task_id for r in delivered)
    assert emulator.stats.snapshot()["tasks_created"]["total"] == 3
    if sys.version_info >= (3, 11):  # exception notes are new in 3.11
        assert any("after 3 inputs" in note for note in caught.value.__notes__)


async def test_a_batch_of_few_inputs_takes_only_the_slots_it_needs(emulator: Emulator) -> None:
    async with emulator.client() as client:
        batch = client.run_many("wf-echo", [{"n": 1}], concurrency=10_000)
        assert batch.concurrency == 1
        results = [result async for result in batch]
        assert [r.output["echo"] for r in results] == [{"n": 1}]
        # A generator has no length: the asked-for concurrency stands.
        assert client.run_many("wf-echo", iter([{}]), concurrency=50).concurrency == 50
