"""Extra cost of a blocking call over the async call, for one signed request.

Both sides call ``predictions.progress(task_id)`` against the same instant in-process
``httpx.MockTransport``: the async client from inside an event loop, the blocking ``SpeedPix``
from a plain thread (each call crosses into its loop thread through the anyio portal and back).
The difference is what the blocking wrapper costs.

Each blocking call makes two thread wake-ups (caller → loop thread → caller). When the two
threads run on different CPUs, a virtual machine's cross-CPU wake-up latency dominates the
figure; ``--same-cpu`` pins the process to one CPU to show the wrapper's own cost.

    python benchmarks/sync_overhead.py [--n 2000] [--rounds 15] [--same-cpu]

Target: under 150 us per call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import anyio
import httpx

from speedpix_async import AsyncSpeedPix, SpeedPix

BODY = json.dumps(
    {
        "status": 10,
        "apiInvokeId": "i_bench",
        "data": {"taskId": "t1", "status": "running", "progress": 0.5, "etaRelative": 2.5},
    }
).encode()


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


def client_kwargs() -> dict[str, object]:
    return {
        "app_key": "bench-key",
        "app_secret": "bench-secret",
        "endpoint": "http://bench.local",
        "transport": httpx.MockTransport(handler),
    }


async def async_round(client: AsyncSpeedPix, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await client.predictions.progress("t1")
    return (time.perf_counter() - start) / n * 1e6


def sync_round(client: SpeedPix, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        client.predictions.progress("t1")
    return (time.perf_counter() - start) / n * 1e6


async def fresh_async_round(n: int) -> float:
    async with AsyncSpeedPix(**client_kwargs()) as client:  # type: ignore[arg-type]
        await async_round(client, 200)  # warm-up
        return await async_round(client, n)


def main(n: int, rounds: int) -> None:
    async_times: list[float] = []
    sync_times: list[float] = []
    with SpeedPix(**client_kwargs()) as blocking:  # type: ignore[arg-type]
        sync_round(blocking, 300)  # warm-up (starts the loop thread)
        # Interleaved rounds, both driven from the main thread as a script would: background
        # load hits both sides alike, and the minimum is the least disturbed figure.
        for _ in range(rounds):
            async_times.append(anyio.run(fresh_async_round, n))
            sync_times.append(sync_round(blocking, n))
    a_min, s_min = min(async_times), min(sync_times)
    a_med, s_med = statistics.median(async_times), statistics.median(sync_times)
    print(f"{rounds} interleaved rounds of {n} sequential calls; us per call:")
    print(f"{'':34}{'min':>9}{'median':>9}")
    print(f"{'async  predictions.progress()':34}{a_min:9.1f}{a_med:9.1f}")
    print(f"{'blocking predictions.progress()':34}{s_min:9.1f}{s_med:9.1f}")
    print(f"{'blocking overhead':34}{s_min - a_min:9.1f}{s_med - a_med:9.1f}")
    print("target: < 150 us per call")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--same-cpu", action="store_true", help="pin the process to one CPU")
    args = parser.parse_args()
    if args.same_cpu:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"CPUs available to this process: {sorted(os.sched_getaffinity(0))}")
    main(args.n, args.rounds)
