"""What constructing a client blocks the event loop for.

Builds ``AsyncSpeedPix`` and ``AsyncPortrait`` clients inside a running loop and prints the
first construction (which builds the process's TLS context) and the median of the rest. Every
millisecond here is a millisecond no other task on the loop runs.

    python benchmarks/client_construction.py [--n 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import anyio

from speedpix_async import AsyncPortrait, AsyncSpeedPix


async def measure(build: Callable[[], Any], n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client = build()
        times.append(time.perf_counter() - started)
        await client.aclose()
    return times


async def main(n: int) -> None:
    kinds: list[tuple[str, Callable[[], Any]]] = [
        ("AsyncSpeedPix (http://)", lambda: AsyncSpeedPix("k", "s", endpoint="http://127.0.0.1:9")),
        ("AsyncSpeedPix (https://)", lambda: AsyncSpeedPix("k", "s", endpoint="https://api.test")),
        (
            "AsyncPortrait",
            lambda: AsyncPortrait(app_id="a", token="t", host="https://portrait.test"),
        ),
    ]
    for name, build in kinds:
        times = await measure(build, n)
        print(
            f"{name:26} first {times[0] * 1000:7.2f} ms   "
            f"median of the next {n - 1}: {statistics.median(times[1:]) * 1000:6.3f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    anyio.run(main, args.n)
