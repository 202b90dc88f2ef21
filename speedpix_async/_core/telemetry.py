"""OpenTelemetry spans and metrics, opt-in (the ``otel`` extra; README, "Observability").

The SDK never imports OpenTelemetry itself. :func:`active` looks for it in ``sys.modules``: a
program that did not import it cannot have configured a provider, so the answer is ``None`` for
the price of a dictionary lookup, and every instrumented call goes on exactly as without it.
Once imported, telemetry is on only while a real provider is set (not the API's proxy or no-op
one); the instruments are made once per provider.

What is recorded never holds a secret: URLs lose their query (presigned URLs carry their
signature there), and no header, body, signature or string-to-sign is ever an attribute.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from .._version import __version__

__all__ = ["CallRecord", "Telemetry", "active", "call", "span", "without_query"]

#: Providers that record nothing: the API's defaults before a real provider is set.
_INERT = frozenset(
    {"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"}
)
#: Attribute names of our own (OpenTelemetry's semantic conventions cover the HTTP ones).
SERVICE = "speedpix.service"
WORKFLOW = "speedpix.workflow_id"
TASK = "speedpix.task_id"
JOB = "speedpix.portrait.job_id"
STATUS = "speedpix.status"
ROUTE = "speedpix.route"

Attributes = Mapping[str, str | int | float | bool]
#: A path segment that is a number (an AI Portrait job id): a metric label per job otherwise.
_ID = re.compile(r"/\d+(?=/|$)")


def without_query(url: str) -> str:
    """``url`` with no query or fragment: what may appear in telemetry."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class _Cache:
    tracer_provider: object = None
    meter_provider: object = None
    telemetry: Telemetry | None = None


def active() -> Telemetry | None:
    """The telemetry to record into, or ``None`` when no provider is configured."""
    trace_api = sys.modules.get("opentelemetry.trace")
    if trace_api is None:
        return None
    metrics_api = sys.modules.get("opentelemetry.metrics")
    tracer_provider = trace_api.get_tracer_provider()
    meter_provider = None if metrics_api is None else metrics_api.get_meter_provider()
    if tracer_provider is _Cache.tracer_provider and meter_provider is _Cache.meter_provider:
        return _Cache.telemetry
    tracing = type(tracer_provider).__name__ not in _INERT
    metering = meter_provider is not None and type(meter_provider).__name__ not in _INERT
    telemetry = None
    if tracing or metering:
        telemetry = Telemetry(
            tracer_provider if tracing else None, meter_provider if metering else None
        )
    _Cache.tracer_provider, _Cache.meter_provider = tracer_provider, meter_provider
    _Cache.telemetry = telemetry
    return telemetry


class _Nothing(contextlib.AbstractContextManager[None]):
    """A context that does nothing and yields None, without a trace in the frame using it.

    ``with`` looks ``__enter__`` and ``__exit__`` up on the type and binds them to the
    instance; a block held open across an ``await`` keeps that bound ``__exit__`` in its frame
    (one more object per waiting prediction for the garbage collector to walk, twice over in
    a wait). Static methods bind to nothing: the frame holds the one shared function."""

    __slots__ = ()

    @staticmethod
    def __enter__() -> None:
        return None

    @staticmethod
    def __exit__(*exc_info: object) -> None:
        return None


#: What :func:`span` and :func:`call` give when telemetry is off: one shared, stateless (so
#: reusable and reentrant) context that yields None.
NOTHING: contextlib.AbstractContextManager[None] = _Nothing()


def span(name: str, attributes: Attributes) -> contextlib.AbstractContextManager[Any]:
    """A span named ``name`` when telemetry is on; else a context that yields ``None``."""
    telemetry = active()
    if telemetry is None:
        return NOTHING
    return telemetry.span(name, attributes)


def call(
    service: str, method: str, url: str, route: str
) -> contextlib.AbstractContextManager[CallRecord | None]:
    """:meth:`Telemetry.call` when telemetry is on; else a context that yields ``None``."""
    telemetry = active()
    if telemetry is None:
        return NOTHING
    return telemetry.call(service, method, url, route)


class _NoSpan:
    """Stands in for a span when only metrics are on."""

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_attributes(self, attributes: Attributes) -> None:
        pass


class CallRecord:
    """One logical HTTP call as telemetry sees it; told its attempts, its outcome and the file
    bytes it moved (up for a PUT, down for a GET)."""

    __slots__ = ("attempts", "moved", "status")

    def __init__(self) -> None:
        self.attempts = 0
        self.status: int | None = None
        self.moved = 0


class Telemetry:
    """A tracer and the SDK's instruments on the configured providers."""

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        self.tracer = (
            None
            if tracer_provider is None
            else tracer_provider.get_tracer("speedpix_async", __version__)
        )
        self.metering = meter_provider is not None
        if meter_provider is None:
            return
        meter = meter_provider.get_meter("speedpix_async", __version__)
        self.predictions = meter.create_counter(
            "speedpix.predictions", unit="{prediction}", description="predictions by final status"
        )
        self.duration = meter.create_histogram(
            "speedpix.prediction.duration", unit="s", description="submit to final result"
        )
        self.queue_duration = meter.create_histogram(
            "speedpix.prediction.queue_duration", unit="s", description="submit to start (server)"
        )
        self.requests = meter.create_counter(
            "speedpix.requests", unit="{request}", description="HTTP calls by route and outcome"
        )
        self.request_duration = meter.create_histogram(
            "http.client.request.duration", unit="s", description="one HTTP call, retries included"
        )
        self.retries = meter.create_counter(
            "speedpix.retries", unit="{retry}", description="attempts after a call's first"
        )
        self.bytes = meter.create_counter(
            "speedpix.bytes", unit="By", description="file bytes moved (direction: up or down)"
        )

    @contextlib.contextmanager
    def span(self, name: str, attributes: Attributes, *, client: bool = False) -> Iterator[Any]:
        """A span named ``name`` (a child of the current one); an exception that leaves it
        is recorded on it, with ``error.type``."""
        if self.tracer is None:
            yield _NoSpan()
            return
        trace_api = sys.modules["opentelemetry.trace"]  # imported: a provider is set
        kind = trace_api.SpanKind.CLIENT if client else trace_api.SpanKind.INTERNAL
        with self.tracer.start_as_current_span(
            name, kind=kind, attributes=attributes, set_status_on_exception=False
        ) as span:
            try:
                yield span
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(trace_api.Status(trace_api.StatusCode.ERROR, type(exc).__name__))
                raise

    @contextlib.contextmanager
    def call(self, service: str, method: str, url: str, route: str) -> Iterator[CallRecord]:
        """One HTTP call (its retries inside), as an HTTP client span and request metrics.
        Numbers in ``route`` become ``{id}``."""
        record = CallRecord()
        route = _ID.sub("/{id}", route)
        parts = urlsplit(url)
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "url.full": without_query(url),
            "server.address": parts.hostname or "",
            SERVICE: service,
            ROUTE: route,
        }
        if parts.port is not None:
            attributes["server.port"] = parts.port
        started = time.perf_counter()
        outcome = "error"
        try:
            with self.span(f"{method} {route}", attributes, client=True) as span:
                try:
                    yield record
                finally:
                    if record.status is not None:
                        span.set_attribute("http.response.status_code", record.status)
                    if record.attempts > 1:
                        span.set_attribute("http.request.resend_count", record.attempts - 1)
            outcome = "ok" if record.status is None else str(record.status)
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            if self.metering:
                labels = {SERVICE: service, ROUTE: route, "http.request.method": method}
                self.requests.add(1, {**labels, "outcome": outcome})
                self.request_duration.record(time.perf_counter() - started, labels)
                if record.attempts > 1:
                    self.retries.add(record.attempts - 1, labels)
                if record.moved:
                    direction = "up" if method == "PUT" else "down"
                    self.bytes.add(record.moved, {SERVICE: service, "direction": direction})

    def prediction(
        self,
        workflow_id: str | None,
        status: str,
        *,
        seconds: float | None,
        queued: float | None,
    ) -> None:
        """A prediction's end, for the metrics."""
        if not self.metering:
            return
        labels = {WORKFLOW: workflow_id or "", STATUS: status}
        self.predictions.add(1, labels)
        if seconds is not None:
            self.duration.record(seconds, labels)
        if queued is not None and queued >= 0:
            self.queue_duration.record(queued, labels)
