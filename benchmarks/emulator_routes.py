"""The emulator's cost per request, route by route: requests per second per core.

An emulator runs in another process at ``--time-scale 0``; this process drives one route at a
time with the SDK (aiohttp backend, ``--concurrency`` calls in flight) and reads the emulator's
own CPU time from ``/proc`` before and after. ``requests/s per core`` is requests served per
CPU-second of the emulator process — what bounds a wide fan-out or a test suite on one machine.

    python benchmarks/emulator_routes.py [--n 2000] [--concurrency 64] [--rounds 3]

Routes: submit (``comfy_prompt``), progress, result, upload (sign + object PUT of a 16 KiB PNG:
two requests), object GET (the same 16 KiB), Portrait create (one person, a trained model).
Min / median over rounds.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import anyio
from _common import emulator_process, raise_fd_limit

from speedpix_async import AsyncPortrait, AsyncSpeedPix

KEY, SECRET = "bench-key", "bench-secret"
APP_ID, TOKEN = "bench-app", "bench-token"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\0" * (16 * 1024 - 16)

Call = Callable[[int], Awaitable[object]]


async def drive(call: Call, n: int, concurrency: int) -> None:
    """``call(i)`` for i in 0..n-1, ``concurrency`` at a time."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await call(i)

    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)


async def measure(
    endpoint: str, pid: int, n: int, portrait_n: int, concurrency: int, folder: Path
) -> dict[str, tuple[float, int]]:
    """Per route: (emulator CPU seconds, requests) for ``n`` calls."""

    def cpu() -> float:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    figures: dict[str, tuple[float, int]] = {}

    async def route(name: str, call: Call, requests_per_call: int = 1, calls: int = n) -> None:
        await drive(call, min(calls, 50), concurrency)  # warm-up: connections, caches
        before = cpu()
        await drive(call, calls, concurrency)
        figures[name] = (cpu() - before, calls * requests_per_call)

    picture = folder / "in.png"
    picture.write_bytes(PNG)
    speedpix = AsyncSpeedPix(KEY, SECRET, endpoint=endpoint, http_backend="aiohttp")
    portrait = AsyncPortrait(endpoint, APP_ID, TOKEN, http_backend="aiohttp")
    async with speedpix, portrait:
        predictions = speedpix.predictions
        finished = await speedpix.predictions.create("wf-echo", input={"a": 1})
        await finished.wait()
        task = finished.id
        await route("submit", lambda i: predictions.create("wf-echo", input={"i": i}))
        await route("progress", lambda i: predictions.progress(task))
        await route("result", lambda i: predictions.result(task))
        uploaded = await speedpix.files.create(picture)
        await route("upload (sign + PUT)", lambda i: speedpix.files.create(picture), 2)
        url = uploaded.access_url
        await route("object GET", lambda i: speedpix.files.from_url(url).read())
        photos = [f"{endpoint}/_emulator/samples/portrait-0-{k}.png" for k in range(3)]
        job = await (await portrait.train(photos)).wait(timeout=600)
        template = f"{endpoint}/_emulator/samples/template-1.png"
        model = job.model_id
        create = functools.partial(portrait.create, template, model_id=model)
        await route("Portrait create", lambda i: create(), calls=portrait_n)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--portrait-n", type=int, default=100, help="Portrait creates per round")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    raise_fd_limit()
    rates: dict[str, list[float]] = {}
    flags = ["--time-scale", "0", "--app-key", KEY, "--app-secret", SECRET]
    flags += ["--portrait-app-id", APP_ID, "--portrait-token", TOKEN]
    for _ in range(args.rounds):
        with emulator_process(*flags) as endpoint, TemporaryDirectory() as folder:
            figures = anyio.run(
                measure,
                endpoint,
                endpoint.pid,
                args.n,
                args.portrait_n,
                args.concurrency,
                Path(folder),
            )
        for name, (seconds, requests) in figures.items():
            rates.setdefault(name, []).append(requests / max(seconds, 1e-9))
    print(f"{args.rounds} rounds of {args.n} calls, {args.concurrency} in flight; emulator")
    print(f"{'route':24}{'req/s per core min':>20}{'median':>10}{'ms CPU/request':>16}")
    for name, values in rates.items():
        low, mid = min(values), statistics.median(values)
        print(f"{name:24}{low:20.0f}{mid:10.0f}{1000 / mid:16.3f}")


if __name__ == "__main__":
    main()
