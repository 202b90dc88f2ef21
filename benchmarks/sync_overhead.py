"""Extra cost of a blocking call over the async call, for one signed request.

Both sides call ``predictions.progress(task_id)`` against the same instant in-process
``httpx.MockTransport``: the async client from inside an event loop, the blocking ``SpeedPix``
from a plain thread (each call crosses into its loop thread through the anyio portal and back).
The difference is what the blocking wrapper costs.

Each blocking call makes two thread wake-ups (caller → loop thread → caller). When the two
threads run on different CPUs, a virtual machine's cross-CPU wake-up latency dominates the
figure; ``--same-cpu`` pins the process to one CPU to show the wrapper's own cost.

    python benchmarks/sync_overhead.py [--n 2000] [--rounds 15] [--same-cpu]
    python benchmarks/sync_overhead.py --emulator --backend aiohttp   # real loopback sockets

``--emulator`` calls a real task's progress on an emulator in another process instead, over
loopback sockets, with the chosen HTTP backend (``--backend httpx|aiohttp|native``).
``--client-cpu N`` then pins this process (the caller and the loop thread) to CPU N once the
emulator has started, leaving the emulator free: the hop without cross-CPU wake-ups. On a
virtual machine without guest halt-polling, waking a thread on an idle CPU costs tens of
microseconds, and the more CPU each call takes on the loop thread (httpx takes about twice
native's), the more often the two threads end up apart. ``wake_latency.py`` reads a ``perf sched
record`` of a run and shows, per thread, how long its wake-ups took and how often it ran on the
waker's CPU.

Target (issue "Fast by default"): the hop at most 200 us median, on every backend.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

import anyio
import httpx
from _common import emulator_process

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


#: How the clients are built: the mock transport, or (``--emulator``) an endpoint and backend.
CLIENT: dict[str, Any] = {
    "app_key": "bench-key",
    "app_secret": "bench-secret",
    "endpoint": "http://bench.local",
    "transport": httpx.MockTransport(handler),
}
#: The task whose progress is read.
TASK = ["t1"]


def client_kwargs() -> dict[str, Any]:
    return dict(CLIENT)


async def real_task() -> str:
    async with AsyncSpeedPix(**client_kwargs()) as client:
        handle = await client.predictions.create("wf-sleep", input={"seconds": 3600})
        return handle.id


async def async_round(client: AsyncSpeedPix, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await client.predictions.progress(TASK[0])
    return (time.perf_counter() - start) / n * 1e6


def sync_round(client: SpeedPix, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        client.predictions.progress(TASK[0])
    return (time.perf_counter() - start) / n * 1e6


async def fresh_async_round(n: int) -> float:
    async with AsyncSpeedPix(**client_kwargs()) as client:
        await async_round(client, 200)  # warm-up
        return await async_round(client, n)


def main(n: int, rounds: int) -> None:
    async_times: list[float] = []
    sync_times: list[float] = []
    with SpeedPix(**client_kwargs()) as blocking:
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
    print("target: at most 200 us median")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--same-cpu", action="store_true", help="pin the process to one CPU")
    parser.add_argument(
        "--emulator", action="store_true", help="a real emulator over loopback, not a mock"
    )
    parser.add_argument("--backend", choices=("httpx", "aiohttp", "native"), default="httpx")
    parser.add_argument(
        "--client-cpu", type=int, help="with --emulator: pin this process to that CPU"
    )
    args = parser.parse_args()
    if args.same_cpu:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"CPUs available to this process: {sorted(os.sched_getaffinity(0))}")
    if not args.emulator:
        main(args.n, args.rounds)
        sys.exit()
    with emulator_process("--app-key", "bench-key", "--app-secret", "bench-secret") as endpoint:
        del CLIENT["transport"]
        CLIENT.update(endpoint=endpoint, http_backend=args.backend)
        TASK[0] = anyio.run(real_task)
        if args.client_cpu is not None:
            # The blocking client's loop thread starts later, in main(), and inherits this.
            os.sched_setaffinity(0, {args.client_cpu})
        print(f"emulator at {endpoint}, backend {args.backend}")
        main(args.n, args.rounds)
