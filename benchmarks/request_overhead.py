"""Client overhead of one signed request, against an in-process transport.

Measures ``client.predictions.progress(task_id)`` — serialize, sign, send through httpx, read the
envelope, structure the model — against an ``httpx.MockTransport`` that answers instantly, and the
same POST made with bare httpx (no signing, no parsing) as a baseline. The difference is what the
SDK itself costs per request.

    python benchmarks/request_overhead.py [--n 20000]
    python benchmarks/request_overhead.py --otel imported   # OpenTelemetry imported, no provider
    python benchmarks/request_overhead.py --otel on         # providers + in-memory exporters

``--otel`` measures telemetry's cost per request: ``off`` (the default: never imported),
``imported`` (the API imported but no provider set: the SDK must stay as cheap as off) and
``on`` (a tracer provider with an in-memory span exporter and a meter provider with an
in-memory reader — each request is then one HTTP client span and its metrics).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx

from speedpix_async import AsyncSpeedPix

BODY = json.dumps(
    {
        "status": 10,
        "apiInvokeId": "i_bench",
        "data": {
            "taskId": "1234567890",
            "status": "running",
            "progress": 0.5,
            "etaRelative": 2.5,
            "lastQueueRemaining": 0,
            "message": "running",
        },
    }
).encode()


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


Call = Callable[[], Awaitable[Any]]


async def one_round(call: Call, n: int) -> float:
    """Microseconds per call over ``n`` sequential calls."""
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - start) / n * 1e6


async def main(n: int, rounds: int) -> None:
    transport = httpx.MockTransport(handler)
    payload = b'{"taskId":"1234567890"}'
    async with (
        AsyncSpeedPix(
            "bench-key", "bench-secret", endpoint="http://bench.local", transport=transport
        ) as client,
        httpx.AsyncClient(transport=transport, base_url="http://bench.local") as raw,
    ):

        async def sdk_call() -> object:
            return await client.predictions.progress("1234567890")

        async def bare_call() -> object:
            return await raw.post("/scc/comfy_get_progress", content=payload)

        await one_round(sdk_call, 500)  # warm-up
        await one_round(bare_call, 500)
        sdk: list[float] = []
        bare: list[float] = []
        # Interleaved rounds, so background load hits both sides alike; the minimum is the
        # figure least disturbed by other processes (as timeit reports).
        for _ in range(rounds):
            sdk.append(await one_round(sdk_call, n))
            bare.append(await one_round(bare_call, n))
    print(f"{rounds} interleaved rounds of {n} sequential requests; us per request:")
    print(f"{'':40}{'min':>9}{'median':>9}")
    print(
        f"{'bare httpx POST (no signing/parsing)':40}{min(bare):9.1f}{statistics.median(bare):9.1f}"
    )
    print(
        f"{'speedpix_async predictions.progress()':40}{min(sdk):9.1f}{statistics.median(sdk):9.1f}"
    )
    print(
        f"{'SDK overhead over bare httpx':40}{min(sdk) - min(bare):9.1f}"
        f"{statistics.median(sdk) - statistics.median(bare):9.1f}"
    )


def telemetry(mode: str) -> None:
    """Set OpenTelemetry up as ``--otel`` says (``off``: leave it unimported)."""
    if mode == "off":
        return
    from opentelemetry import metrics, trace

    if mode == "on":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        tracing = TracerProvider()
        tracing.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        trace.set_tracer_provider(tracing)
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    print(f"OpenTelemetry: {mode} (tracer provider {type(trace.get_tracer_provider()).__name__})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--otel", choices=("off", "imported", "on"), default="off")
    args = parser.parse_args()
    telemetry(args.otel)
    anyio.run(main, args.n, args.rounds)
