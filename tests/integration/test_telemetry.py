"""OpenTelemetry (the ``otel`` extra): with real providers and in-memory exporters, the SDK's
spans and metrics against the emulator — a run, a failed task, a retried poll, a lost submit,
files, AI Portrait — and never a secret in an attribute. Off, nothing of OpenTelemetry is
imported or recorded.

The providers are set once per test process (OpenTelemetry allows one global provider);
each test reads only what it caused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from speedpix_async import PredictionFailedError, SubmitOutcomeUnknownError
from speedpix_async._core.telemetry import active
from speedpix_async.emulator import Emulator, make_sample_photo
from tests.conftest import FAST_RETRY

SPANS = InMemorySpanExporter()
READER = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def providers() -> None:
    """Real providers for this process (set once: OpenTelemetry refuses a second one)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        tracing = TracerProvider()
        tracing.add_span_processor(SimpleSpanProcessor(SPANS))
        trace.set_tracer_provider(tracing)
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))


@pytest.fixture
def spans() -> InMemorySpanExporter:
    SPANS.clear()
    return SPANS


def finished(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    [span] = finished(exporter, name)
    return span


def points(name: str) -> list[tuple[dict[str, Any], float]]:
    """Every data point of the metric ``name`` so far: (attributes, value or count)."""
    data = READER.get_metrics_data()
    found: list[tuple[dict[str, Any], float]] = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    # Counters have a value, histograms a count.
                    value: Any = getattr(point, "value", None) or getattr(point, "count", 0)
                    found.append((dict(point.attributes or {}), float(value)))
    return found


def total(name: str, **labels: Any) -> float:
    return sum(
        value
        for attributes, value in points(name)
        if all(attributes.get(key) == want for key, want in labels.items())
    )


def parent_of(span: ReadableSpan, exporter: InMemorySpanExporter) -> ReadableSpan | None:
    if span.parent is None:
        return None
    ids = {other.context.span_id: other for other in exporter.get_finished_spans()}
    return ids.get(span.parent.span_id)


async def test_a_run_is_one_trace_of_submit_wait_and_http_calls(
    spans: InMemorySpanExporter,
) -> None:
    emulator = Emulator(time_scale=0.01)
    before = total("speedpix.predictions", **{"speedpix.workflow_id": "wf-sleep"})
    async with emulator.client() as client:
        await client.run("wf-sleep", {"seconds": 1})
    run = only(spans, "speedpix.run")
    task_id = run.attributes["speedpix.task_id"]  # type: ignore[index]
    assert run.attributes["speedpix.workflow_id"] == "wf-sleep"  # type: ignore[index]
    assert run.attributes["speedpix.status"] == "succeeded"  # type: ignore[index]
    submit, wait = only(spans, "speedpix.submit"), only(spans, "speedpix.wait")
    assert parent_of(submit, spans) is run
    assert parent_of(wait, spans) is run
    assert wait.attributes["speedpix.task_id"] == task_id  # type: ignore[index]
    assert wait.attributes["speedpix.queue_time"] >= 0  # type: ignore[index,operator]
    assert wait.attributes["speedpix.run_time"] > 0  # type: ignore[index,operator]
    prompt = only(spans, "POST /scc/comfy_prompt")
    assert parent_of(prompt, spans) is submit
    assert prompt.kind == trace.SpanKind.CLIENT
    assert prompt.attributes["http.request.method"] == "POST"  # type: ignore[index]
    assert prompt.attributes["http.response.status_code"] == 200  # type: ignore[index]
    assert prompt.attributes["url.full"] == (  # type: ignore[index]
        "http://speedpix-emulator.local/scc/comfy_prompt"
    )
    assert prompt.attributes["server.address"] == "speedpix-emulator.local"  # type: ignore[index]
    polls = finished(spans, "POST /scc/comfy_get_result") + finished(
        spans, "POST /scc/comfy_get_progress"
    )
    assert polls
    assert all(parent_of(poll, spans) is wait for poll in polls)
    after = total("speedpix.predictions", **{"speedpix.workflow_id": "wf-sleep"})
    assert after - before == 1
    assert total("speedpix.prediction.duration", **{"speedpix.status": "succeeded"}) >= 1


async def test_a_failed_task_marks_its_wait_and_counts_as_failed(
    spans: InMemorySpanExporter,
) -> None:
    before = total("speedpix.predictions", **{"speedpix.status": "failed"})
    async with Emulator(time_scale=0.01).client() as client:
        with pytest.raises(PredictionFailedError):
            await client.run("wf-fail", {})
    wait = only(spans, "speedpix.wait")
    assert wait.attributes["speedpix.status"] == "failed"  # type: ignore[index]
    assert wait.attributes["error.type"] == "PredictionFailedError"  # type: ignore[index]
    assert wait.status.status_code == StatusCode.ERROR
    assert only(spans, "speedpix.run").status.status_code == StatusCode.ERROR
    assert total("speedpix.predictions", **{"speedpix.status": "failed"}) - before == 1


async def test_a_retried_poll_is_one_span_with_its_resend_count(
    spans: InMemorySpanExporter,
) -> None:
    emulator = Emulator(time_scale=0.01)
    route = "/scc/comfy_get_result"
    before = total("speedpix.retries", **{"speedpix.route": route})
    emulator.faults.script("unavailable", route=route)
    async with emulator.client(retry_policy=FAST_RETRY) as client:
        await client.run("wf-echo", {"a": 1})
    [poll] = finished(spans, f"POST {route}")
    assert poll.attributes["http.request.resend_count"] == 1  # type: ignore[index]
    assert poll.attributes["http.response.status_code"] == 200  # type: ignore[index]
    assert total("speedpix.retries", **{"speedpix.route": route}) - before == 1
    assert total("speedpix.requests", **{"speedpix.route": route, "outcome": "200"}) >= 1


async def test_a_lost_submit_is_an_error_on_the_submit_span(spans: InMemorySpanExporter) -> None:
    emulator = Emulator(time_scale=0.01)
    emulator.faults.script("reset", route="/scc/comfy_prompt", phase="after")
    async with emulator.client(retry_policy=FAST_RETRY) as client:
        with pytest.raises(SubmitOutcomeUnknownError):
            await client.run("wf-echo", {"a": 1})
    submit = only(spans, "speedpix.submit")
    assert submit.status.status_code == StatusCode.ERROR
    assert submit.attributes["error.type"] == "SubmitOutcomeUnknownError"  # type: ignore[index]
    call = only(spans, "POST /scc/comfy_prompt")
    assert call.status.status_code == StatusCode.ERROR
    assert "http.response.status_code" not in (call.attributes or {})  # no answer came
    assert finished(spans, "speedpix.wait") == []  # nothing to wait for


async def test_files_up_and_down_are_spans_and_bytes(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    photo = make_sample_photo(tmp_path / "in.jpg")
    size = photo.stat().st_size
    up = total("speedpix.bytes", direction="up")
    down = total("speedpix.bytes", direction="down")
    async with Emulator(time_scale=0.01).client() as client:
        uploaded = await client.files.create(photo)
        data = await client.files.from_url(uploaded.access_url).read()
    assert len(data) == size
    put, get = only(spans, "PUT object"), only(spans, "GET object")
    for span in (put, get):
        assert span.attributes["speedpix.service"] == "object store"  # type: ignore[index]
        assert "?" not in span.attributes["url.full"]  # type: ignore[index,operator]
    assert total("speedpix.bytes", direction="up") - up == size
    assert total("speedpix.bytes", direction="down") - down == size


async def test_ai_portrait_check_train_wait_and_create_are_spans(
    spans: InMemorySpanExporter,
) -> None:
    emulator = Emulator(time_scale=0.01)
    photos = [emulator.sample_url(f"portrait-0-{n}.png") for n in range(3)]
    async with emulator.portrait_client() as portrait:
        await portrait.check_images(photos)
        job = await (await portrait.train(photos)).wait(timeout=60)
        await portrait.create(emulator.sample_url("template-1.png"), model_id=job.model_id)
    assert only(spans, "portrait.check").attributes["speedpix.portrait.images"] == 3  # type: ignore[index]
    train = only(spans, "portrait.train")
    job_id = train.attributes["speedpix.portrait.job_id"]  # type: ignore[index]
    assert job_id == job.id
    wait = only(spans, "portrait.job.wait")
    assert wait.attributes["speedpix.portrait.job_id"] == job_id  # type: ignore[index]
    assert wait.attributes["speedpix.status"] == "succeeded"  # type: ignore[index]
    assert only(spans, "portrait.create").status.status_code != StatusCode.ERROR
    routes = {span.attributes.get("speedpix.route") for span in spans.get_finished_spans()}  # type: ignore[union-attr]
    assert "/api/v1/async_jobs/{id}" in routes  # ids are not metric labels


async def test_no_secret_reaches_an_attribute(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    emulator = Emulator(time_scale=0.01)
    emulator.faults.script("unavailable", route="/scc/comfy_get_result")
    photo = make_sample_photo(tmp_path / "in.jpg")
    async with emulator.client(retry_policy=FAST_RETRY) as client:
        output = await client.run("wf-echo", {"image": photo})
        await output["echo"]["image"].read()
    async with emulator.portrait_client() as portrait:
        await portrait.check_images([emulator.sample_url("portrait-0-0.png")])
    text = json.dumps(
        [
            {**dict(span.attributes or {}), "name": span.name, "events": str(span.events)}
            for span in spans.get_finished_spans()
        ]
    )
    for secret in (emulator.app_secret, emulator.portrait_token, "Signature", "x-ca-signature"):
        assert secret not in text
    assert "Expires=" not in text  # no presigned query at all


def test_off_nothing_of_opentelemetry_is_imported_or_recorded() -> None:
    program = (
        "import asyncio, sys\n"
        "from speedpix_async.emulator import Emulator\n"
        "async def main():\n"
        "    async with Emulator(time_scale=0.01).client() as client:\n"
        "        await client.run('wf-echo', {'a': 1})\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
        "import opentelemetry.trace  # imported, but no provider configured\n"
        "from speedpix_async._core.telemetry import active\n"
        "print(active())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["[]", "None"]


def test_on_in_this_process() -> None:
    assert active() is not None


def test_the_no_op_context_leaves_nothing_in_the_frame_that_uses_it() -> None:
    from speedpix_async._core.telemetry import NOTHING

    # A bound __exit__ would be a new object per `with`, kept by every waiting prediction's
    # frame; the shared context's is one function.
    assert NOTHING.__exit__ is NOTHING.__exit__
    assert NOTHING.__enter__ is NOTHING.__enter__
    with NOTHING as entered:
        assert entered is None
    with pytest.raises(KeyError), NOTHING:
        raise KeyError("not swallowed")
