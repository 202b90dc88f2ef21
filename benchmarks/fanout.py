"""Fan out N predictions at once through one client: a scaling table.

For each size and HTTP backend, ``client.run_many("wf-sleep", ..., concurrency=N)`` runs in a
fresh process (so its peak memory is its own) against one emulator in another process on
loopback, and the table reports, as min / median of ``--rounds`` runs:

* wall time from the first submit to the last result;
* client CPU per request, and the emulator's CPU per request on the same runs;
* requests per prediction (from the emulator's stats);
* p95 lag between the server finishing a task (its ``taskEndTime``) and the caller getting it;
* peak RSS growth per prediction in flight, and the most sockets the client had open.

    python benchmarks/fanout.py [--sizes 200,1000,5000,10000] [--backends native,aiohttp,httpx]
        [--seconds 2] [--time-scale 1] [--rounds 3] [--estimate-bias 0.3]

``--backends default`` builds the client without ``http_backend=`` (what a user gets);
``--backends aiohttp+uvloop`` runs the client on uvloop (``pip install uvloop``; the emulator
extra brings it). ``--time-scale`` runs long tasks quickly (``--seconds 300 --time-scale 0.01``
takes 3 s per task) while the server reports its estimates in the same scaled time.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, get_args

import anyio
from _common import (
    cpu_seconds,
    emulator_process,
    percentile,
    raise_fd_limit,
    reset_stats,
    stats,
)

from speedpix_async import AsyncSpeedPix, HttpBackendName, Progress

#: Predictions of the warm-up fan-out before the measured one.
WARM_UP = 500
#: How often the client's open sockets are counted during a run.
SAMPLE_EVERY = 0.05


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def rss_kib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024


def _ignore(report: Progress) -> None:
    pass


async def one_run(
    endpoint: str,
    pid: int,
    n: int,
    seconds: float,
    backend: HttpBackendName | None,
    watched: bool = False,
) -> dict[str, float]:
    """One fan-out in this process; returns its figures."""
    lags: list[float] = []
    failures = 0
    peak_sockets = 0
    baseline_sockets = open_sockets()
    async with AsyncSpeedPix(
        "demo-app-key", "demo-app-secret", endpoint=endpoint, http_backend=backend
    ) as client:
        # Warm up the connections, the code paths and the allocator with a smaller fan-out
        # (a process's first wide fan-out costs noticeably more CPU than later ones).
        # Half the size at most, so the measured run's memory peak is its own.
        size = min(n // 2, WARM_UP)
        warm = ({"seconds": 0, "i": i} for i in range(size))
        async for _ in client.run_many("wf-sleep", warm, concurrency=max(1, size)):
            pass
        reset_stats(endpoint)
        rss_before = rss_kib()
        server_before = _server_cpu(pid)
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        async with anyio.create_task_group() as group:

            async def sample() -> None:
                nonlocal peak_sockets
                while True:
                    peak_sockets = max(peak_sockets, open_sockets() - baseline_sockets)
                    await anyio.sleep(SAMPLE_EVERY)

            group.start_soon(sample)
            inputs = ({"seconds": seconds, "i": i} for i in range(n))
            # Watched: every prediction has an on_progress (reports at the watch cadence).
            progress = _ignore if watched else None
            batch = client.run_many("wf-sleep", inputs, concurrency=n, on_progress=progress)
            async for result in batch:
                received = time.time()
                prediction = result.prediction
                if not result.ok or prediction is None or prediction.completed_at is None:
                    failures += 1
                    continue
                lags.append(received - prediction.completed_at.timestamp())
            group.cancel_scope.cancel()
        wall = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
        server_cpu = _server_cpu(pid) - server_before
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    routes = stats(endpoint)["requests"]["by_route"]
    requests = sum(count for route, count in routes.items() if route.startswith("/scc/"))
    return {
        "wall": wall,
        "cpu_per_request_ms": 1000 * cpu / max(requests, 1),
        "server_cpu_per_request_ms": 1000 * server_cpu / max(requests, 1),
        "requests_per_prediction": requests / n,
        "lag_p95": percentile(lags, 0.95) if lags else float("nan"),
        "rss_kib_per_prediction": max(0.0, peak_rss - rss_before) / n,
        "peak_sockets": peak_sockets,
        "failures": failures,
    }


def _server_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_in_child(
    endpoint: str,
    pid: int,
    n: int,
    seconds: float,
    backend: str,
    watched: bool,
    gc_threshold: str | None = None,
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", endpoint, str(pid), str(n), str(seconds)]
    out = subprocess.run(
        [*command, backend, "watched" if watched else "unwatched", gc_threshold or "-"],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


COLUMNS = (
    ("wall", "wall s", "{:.2f}"),
    ("cpu_per_request_ms", "client ms/req", "{:.3f}"),
    ("server_cpu_per_request_ms", "emulator ms/req", "{:.3f}"),
    ("requests_per_prediction", "req/pred", "{:.2f}"),
    ("lag_p95", "p95 lag s", "{:.3f}"),
    ("rss_kib_per_prediction", "RSS KiB/pred", "{:.1f}"),
    ("peak_sockets", "sockets", "{:.0f}"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,1000,5000,10000", help="predictions per run")
    parser.add_argument(
        "--backends",
        default="native,aiohttp,httpx",
        help="http_backend values, or 'default' (none given); a '+uvloop' suffix runs that "
        "client on uvloop",
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="task duration (default 2)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="emulator --time-scale")
    parser.add_argument("--rounds", type=int, default=3, help="runs per row (default 3)")
    parser.add_argument(
        "--estimate-bias",
        type=float,
        default=0.0,
        help="emulator --estimate-bias: 0.3 = every estimate 30%% too long, -0.3 too short",
    )
    parser.add_argument(
        "--estimate-noise", type=float, default=0.0, help="emulator --estimate-noise (sigma)"
    )
    parser.add_argument(
        "--watched",
        action="store_true",
        help="give every prediction an on_progress (polls at the watch cadence)",
    )
    parser.add_argument(
        "--gc-threshold",
        help="gc.set_threshold(...) in the client process, e.g. 10000,50,100 (what a program "
        "that owns its process may do for a very wide fan-out; see docs/performance.md)",
    )
    args = parser.parse_args()
    limit = raise_fd_limit()
    sizes = [int(size) for size in args.sizes.split(",")]
    backends = args.backends.split(",")
    flags = ["--time-scale", str(args.time_scale)] if args.time_scale != 1.0 else []
    if args.estimate_bias or args.estimate_noise:
        flags += ["--estimate-bias", str(args.estimate_bias)]
        flags += ["--estimate-noise", str(args.estimate_noise), "--estimate-seed", "1"]
    print(
        f"run_many of wf-sleep {args.seconds:g}s (time scale {args.time_scale:g}"
        f"{', watched' if args.watched else ''}"
        f"{f', estimates {args.estimate_bias:+.0%}' if args.estimate_bias else ''}"
        f"{f', estimate noise {args.estimate_noise:g}' if args.estimate_noise else ''}"
        f"{f', gc thresholds {args.gc_threshold}' if args.gc_threshold else ''}), "
        f"concurrency = N, emulator in another process, fd limit {limit}; "
        f"min / median of {args.rounds} runs, each in a fresh process"
    )
    widths = [max(len(title), 13) for _, title, _ in COLUMNS]
    print(
        f"{'N':>6} {'backend':15} "
        + " ".join(f"{title:>{w}}" for (_, title, _), w in zip(COLUMNS, widths, strict=True))
        + "  failed"
    )
    with emulator_process(*flags) as endpoint:
        for n in sizes:
            for backend in backends:
                rows = [
                    run_in_child(
                        endpoint,
                        endpoint.pid,
                        n,
                        args.seconds,
                        backend,
                        args.watched,
                        args.gc_threshold,
                    )
                    for _ in range(args.rounds)
                ]
                cells = []
                for (key, _, fmt), width in zip(COLUMNS, widths, strict=True):
                    values = [row[key] for row in rows]
                    low, mid = fmt.format(min(values)), fmt.format(statistics.median(values))
                    cells.append(f"{low + ' / ' + mid:>{width}}")
                failed = sum(row["failures"] for row in rows)
                print(f"{n:6d} {backend:15} " + " ".join(cells) + f"  {failed:6.0f}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, endpoint, pid, n, seconds, backend, watching, thresholds = sys.argv
        raise_fd_limit()
        if thresholds != "-":
            gc.set_threshold(*map(int, thresholds.split(",")))
        name, _, loop = backend.partition("+")
        # "default": the client as a user gets it, built without http_backend=.
        choices: dict[str, HttpBackendName | None] = {"default": None}
        choices.update({backend: backend for backend in get_args(HttpBackendName)})
        choice = choices[name]
        figures = anyio.run(
            one_run,
            endpoint,
            int(pid),
            int(n),
            float(seconds),
            choice,
            watching == "watched",
            backend_options={"use_uvloop": loop == "uvloop"},
        )
        print(json.dumps(figures))
    else:
        main()
