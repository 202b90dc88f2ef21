"""Fan out N predictions at once through one client and measure how well they come back.

Runs ``client.run_many("wf-sleep", ..., concurrency=N)`` against an emulator in a separate
process on loopback and reports:

* wall time from the first submit to the last result;
* lag between the server finishing a task (its ``taskEndTime``) and the client handing the
  result to the caller (p50 / p95 / max);
* requests per prediction (from the emulator's stats);
* client CPU seconds.

    python benchmarks/fanout.py [--n 1000] [--seconds 2]

Targets: wall <= 1.25 x the task duration + 0.5 s; p95 lag <= 0.5 s; <= 4 requests per prediction.
"""

from __future__ import annotations

import argparse
import statistics
import time

import anyio
from _common import (
    EmulatorProcess,
    cpu_seconds,
    emulator_process,
    raise_fd_limit,
    reset_stats,
    stats,
)

from speedpix_async import AsyncSpeedPix


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def fan_out(endpoint: EmulatorProcess, n: int, seconds: float) -> dict[str, float]:
    lags: list[float] = []
    starts: list[float] = []
    failures = 0
    async with AsyncSpeedPix("demo-app-key", "demo-app-secret", endpoint=endpoint) as client:
        await client.run("wf-echo", {"warm": "up"})  # connection and code paths
        reset_stats(endpoint)
        cpu_before = cpu_seconds()
        server_cpu_before = endpoint.cpu_seconds()
        started = time.perf_counter()
        inputs = ({"seconds": seconds, "i": i} for i in range(n))
        async for result in client.run_many("wf-sleep", inputs, concurrency=n):
            received = time.time()
            if not result.ok or result.prediction is None or result.prediction.completed_at is None:
                failures += 1
                continue
            lags.append(received - result.prediction.completed_at.timestamp())
            if result.prediction.started_at is not None:
                starts.append(result.prediction.started_at.timestamp())
        wall = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
        server_cpu = endpoint.cpu_seconds() - server_cpu_before
    server = stats(endpoint)
    scc_requests = sum(
        count
        for route, count in server["requests"]["by_route"].items()
        if route.startswith("/scc/")
    )
    return {
        "wall": wall,
        "lag_p50": percentile(lags, 0.50) if lags else float("nan"),
        "lag_p95": percentile(lags, 0.95) if lags else float("nan"),
        "lag_max": max(lags) if lags else float("nan"),
        "lag_mean": statistics.fmean(lags) if lags else float("nan"),
        "requests_per_prediction": scc_requests / n,
        # Server-side start times: how long the burst of submits took to land.
        "start_spread": (max(starts) - min(starts)) if starts else float("nan"),
        "cpu": cpu,
        "server_cpu": server_cpu,
        "failures": failures,
        "tasks_created": server["tasks_created"]["total"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="predictions (default 1000)")
    parser.add_argument("--seconds", type=float, default=2.0, help="task duration (default 2)")
    args = parser.parse_args()
    limit = raise_fd_limit()
    with emulator_process() as endpoint:
        figures = anyio.run(fan_out, endpoint, args.n, args.seconds)
    wall_target = 1.25 * args.seconds + 0.5
    f = figures
    print(
        f"{args.n} predictions of wf-sleep {args.seconds:g}s, concurrency {args.n}, "
        f"emulator in another process (fd limit {limit})"
    )
    print(f"  wall time:                {f['wall']:7.3f} s   (target <= {wall_target:.2f} s)")
    print(
        f"  lag server end -> client: p50 {f['lag_p50']:.3f} s, p95 {f['lag_p95']:.3f} s, "
        f"max {f['lag_max']:.3f} s   (target p95 <= 0.5 s)"
    )
    print(f"  requests per prediction:  {f['requests_per_prediction']:7.2f}     (target <= 4)")
    print(
        f"  spread of task starts:    {f['start_spread']:7.3f} s   (time for the submits to land)"
    )
    print(f"  client CPU:               {f['cpu']:7.2f} s   (emulator: {f['server_cpu']:.2f} s)")
    print(f"  failed predictions:       {f['failures']:7.0f}     tasks: {f['tasks_created']:.0f}")


if __name__ == "__main__":
    main()
