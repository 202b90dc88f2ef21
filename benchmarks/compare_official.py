"""The same fan-out through this SDK (on each HTTP backend) and through the official ``speedpix``
1.0.4 async client, against one emulator in another process, side by side.

Each client runs N ``wf-sleep`` predictions at once (this SDK: ``run_many(concurrency=N)``
with ``http_backend="native"`` (the default on asyncio), ``"aiohttp"`` and ``"httpx"``; the
official one: ``asyncio.gather`` of ``client.async_run``) and the script reports wall time,
client CPU, CPU per request and per prediction, requests per prediction and the ratio of
throughput per client CPU-second.

    pip install -e ".[dev]"        # the conformance extra brings speedpix 1.0.4
    python benchmarks/compare_official.py [--n 200] [--seconds 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

from _common import EmulatorProcess, cpu_seconds, emulator_process, raise_fd_limit, reset_stats
from _common import stats as server_stats

from speedpix_async import AsyncSpeedPix, HttpBackendName

KEY, SECRET = "demo-app-key", "demo-app-secret"
OFFICIAL = "speedpix 1.0.4"

Runner = Callable[[str, int, float], Coroutine[Any, Any, int]]


def ours(backend: HttpBackendName) -> Runner:
    async def run(endpoint: str, n: int, seconds: float) -> int:
        return await fan_out(endpoint, n, seconds, backend)

    return run


async def fan_out(endpoint: str, n: int, seconds: float, backend: HttpBackendName) -> int:
    ok = 0
    async with AsyncSpeedPix(KEY, SECRET, endpoint=endpoint, http_backend=backend) as client:
        inputs = ({"seconds": seconds, "i": i} for i in range(n))
        async for result in client.run_many("wf-sleep", inputs, concurrency=n):
            ok += result.ok
    return ok


async def official(endpoint: str, n: int, seconds: float) -> int:
    import speedpix

    client = speedpix.Client(app_key=KEY, app_secret=SECRET, endpoint=endpoint)
    try:

        async def one(i: int) -> bool:
            try:
                await client.async_run(
                    workflow_id="wf-sleep", input={"seconds": seconds, "i": i}, alias_id="main"
                )
            except Exception:
                return False
            return True

        return sum(await asyncio.gather(*(one(i) for i in range(n))))
    finally:
        await client.aclose()


def measure(endpoint: EmulatorProcess, runner: Runner, n: int, seconds: float) -> dict[str, Any]:
    reset_stats(endpoint)
    cpu, server_cpu, started = cpu_seconds(), endpoint.cpu_seconds(), time.perf_counter()
    ok = asyncio.run(runner(endpoint, n, seconds))
    wall = time.perf_counter() - started
    cpu, server_cpu = cpu_seconds() - cpu, endpoint.cpu_seconds() - server_cpu
    routes = server_stats(endpoint)["requests"]["by_route"]
    requests = sum(count for route, count in routes.items() if route.startswith("/scc/"))
    return {
        "ok": ok,
        "wall": wall,
        "cpu": cpu,
        "server_cpu": server_cpu,
        "requests": requests,
        "cpu_per_request_ms": 1000 * cpu / max(requests, 1),
        "server_cpu_per_request_ms": 1000 * server_cpu / max(requests, 1),
        "requests_per_prediction": requests / n,
        "predictions_per_cpu_second": ok / cpu if cpu else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="predictions at once (default 200)")
    parser.add_argument("--seconds", type=float, default=2.0, help="task duration (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each client (default 3)")
    args = parser.parse_args()
    raise_fd_limit()
    runners: dict[str, Runner] = {
        "ours, native": ours("native"),
        "ours, aiohttp": ours("aiohttp"),
        "ours, httpx": ours("httpx"),
        OFFICIAL: official,
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in runners}
    with emulator_process() as endpoint:
        for runner in runners.values():  # warm every code path and the emulator
            asyncio.run(runner(endpoint, 2, 0.0))
        for _ in range(args.rounds):  # interleaved, so drift in the machine hits all alike
            for name, runner in runners.items():
                runs[name].append(measure(endpoint, runner, args.n, args.seconds))
    print(
        f"{args.n} predictions of wf-sleep {args.seconds:g}s at once, emulator in another "
        f"process; min / median of {args.rounds} rounds"
    )
    header = (
        f"{'client':16} {'ok':>5} {'wall s':>13} {'client CPU s':>13} {'CPU/req ms':>13} "
        f"{'emulator ms/req':>15} {'req/pred':>8} {'pred/CPU-s':>13}"
    )
    print(header)
    medians: dict[str, dict[str, float]] = {}
    for name, rows in runs.items():

        def pair(key: str, rows: list[dict[str, Any]] = rows) -> tuple[float, float]:
            values = [row[key] for row in rows]
            return min(values), statistics.median(values)

        medians[name] = {key: pair(key)[1] for key in rows[0]}
        wall, cpu, per, srv = (
            pair(k) for k in ("wall", "cpu", "cpu_per_request_ms", "server_cpu_per_request_ms")
        )
        rpp, thr = pair("requests_per_prediction"), pair("predictions_per_cpu_second")
        print(
            f"{name:16} {min(r['ok'] for r in rows):5d} {wall[0]:6.2f}/{wall[1]:<6.2f} "
            f"{cpu[0]:6.2f}/{cpu[1]:<6.2f} {per[0]:6.2f}/{per[1]:<6.2f} "
            f"{srv[0]:7.2f}/{srv[1]:<7.2f} {rpp[1]:8.2f} {thr[0]:6.0f}/{thr[1]:<6.0f}"
        )
    b = medians[OFFICIAL]
    for name in runners:
        if name == OFFICIAL:
            continue
        a = medians[name]
        print(
            f"{name} vs {OFFICIAL} (medians): throughput per client CPU-second "
            f"{a['predictions_per_cpu_second'] / b['predictions_per_cpu_second']:.1f}x, "
            f"client CPU per request {b['cpu_per_request_ms'] / a['cpu_per_request_ms']:.1f}x "
            f"lower, requests per prediction {a['requests_per_prediction']:.2f} vs "
            f"{b['requests_per_prediction']:.2f}, wall {a['wall']:.2f} s vs {b['wall']:.2f} s"
        )


if __name__ == "__main__":
    main()
