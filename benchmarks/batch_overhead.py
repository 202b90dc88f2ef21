"""The client's own CPU per prediction, with the network replaced by instant answers.

An ``httpx.MockTransport`` answers every submit with a task that is estimated to take
``--seconds`` and every result fetch with success, so what is measured is the SDK — inputs,
signing, JSON, models, the wait loop, deadlines — plus the in-process httpx hop (compare
``request_overhead.py``). ``run_many(concurrency=N)`` is measured against ``asyncio.gather`` of
N ``client.run`` calls, so the batch machinery's own share shows.

    python benchmarks/batch_overhead.py [--n 1000] [--seconds 0.2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time

import httpx

from speedpix_async import AsyncSpeedPix

_ids = itertools.count(1)


def handler(request: httpx.Request, seconds: float) -> httpx.Response:
    path = request.url.path
    if path.endswith("/comfy_prompt"):
        data = {
            "taskId": str(next(_ids)),
            "status": "waiting",
            "estimatedDurationInSeconds": seconds,
        }
    else:
        task = json.loads(request.content)["taskId"]
        data = {"taskId": task, "status": "succeeded", "images": [], "result": {"ok": True}}
    body = {"status": 10, "apiInvokeId": "i_bench", "data": data}
    return httpx.Response(200, json=body, headers={"x-ca-request-id": "bench"})


async def one_round(client: AsyncSpeedPix, n: int, seconds: float, batch: bool) -> float:
    """Client CPU microseconds per prediction."""
    inputs = [{"seconds": seconds, "i": i} for i in range(n)]
    started = time.process_time()
    if batch:
        ok = 0
        async for result in client.run_many("wf-sleep", inputs, concurrency=n):
            ok += result.ok
    else:
        ok = len(await asyncio.gather(*(client.run("wf-sleep", item) for item in inputs)))
    assert ok == n
    return (time.process_time() - started) / n * 1e6


async def main(n: int, seconds: float, rounds: int) -> None:
    transport = httpx.MockTransport(lambda request: handler(request, seconds))
    async with AsyncSpeedPix("k", "s", endpoint="http://bench.local", transport=transport) as c:
        await one_round(c, 100, 0.0, True)  # warm-up
        await one_round(c, 100, 0.0, False)
        figures: dict[str, list[float]] = {"run_many": [], "gather(run)": []}
        for _ in range(rounds):  # interleaved: background load hits both alike
            figures["run_many"].append(await one_round(c, n, seconds, True))
            figures["gather(run)"].append(await one_round(c, n, seconds, False))
    print(f"{n} predictions at once, answers in-process; client CPU us per prediction")
    print(f"{'':14}{'min':>9}{'median':>9}")
    for name, values in figures.items():
        print(f"{name:14}{min(values):9.0f}{statistics.median(values):9.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="predictions (default 1000)")
    parser.add_argument("--seconds", type=float, default=0.2, help="estimated task duration")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.seconds, args.rounds))
