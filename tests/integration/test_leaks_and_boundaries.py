"""What an outside review found leaking or crossing a boundary: header values the HTTP library
refuses, errors that do not pickle, signed URLs in logs and reprs, credentials in messages."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import pickle
import ssl
from typing import Any

import httpx
import pytest
import respx

from speedpix_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncPortrait,
    AsyncSpeedPix,
    ClientClosedError,
    ConfigurationError,
    FaceCountMismatchError,
    InputError,
    JournalDamagedError,
    OutcomeUnknownError,
    PortraitInputError,
    PortraitJobFailedError,
    PortraitJobTimeoutError,
    PortraitOutcomeTimeoutError,
    PortraitTimeoutError,
    Prediction,
    PredictionFailedError,
    PredictionTimeoutError,
    ResponseValidationError,
    SignatureError,
    SpeedPixError,
    SubmitOutcomeUnknownError,
    SubmitTimeoutError,
    TaskStatus,
)
from speedpix_async._core.http import tls_context
from speedpix_async._core.httpx_backend import build_http_client
from speedpix_async.emulator import Emulator
from speedpix_async.portrait.models import Job, JobState
from tests.conftest import FAST_POLL, FAST_RETRY

# ---------------------------------------------------------------------- header values


@pytest.mark.parametrize("bad", ["pool\x00a", "pool\x0ba", "pool-ä", "pool\r\nX-Evil: 1"])
async def test_a_resource_config_id_the_http_library_refuses_is_an_input_error(bad: str) -> None:
    emulator = Emulator()
    async with emulator.client() as client:
        with pytest.raises(InputError, match="resource_config_id"):
            await client.run("wf-echo", {}, resource_config_id=bad)
    assert emulator.stats.snapshot()["requests"]["total"] == 0


@pytest.mark.parametrize("key", ["key\r\nX-Evil: 1", "key\x00", "ключ", "a\tb"])
def test_app_keys_that_cannot_be_sent_are_refused_at_construction(key: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot be sent in a request header"):
        AsyncSpeedPix(key, "secret", endpoint="http://127.0.0.1:9")


def test_portrait_app_ids_and_user_agents_are_checked_too() -> None:
    with pytest.raises(ConfigurationError, match="request header"):
        AsyncPortrait("http://127.0.0.1:9", "app\nid", "token")
    with pytest.raises(ConfigurationError, match="user_agent"):
        AsyncSpeedPix("k", "s", endpoint="http://127.0.0.1:9", user_agent="ua\r\nX-Evil: 1")


async def test_a_request_the_http_library_refuses_is_never_retried_nor_reported_as_sent() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.LocalProtocolError("Illegal header value b'x\\x00'")

    async with AsyncSpeedPix(
        "k", "s", endpoint="https://api.test", transport=httpx.MockTransport(handler)
    ) as client:
        with pytest.raises(InputError, match="nothing was sent"):
            await client.predictions.create("wf", {})
    assert len(calls) == 1


@pytest.mark.parametrize(
    "endpoint",
    [
        "ftp://alice:hunter2-secret@api.test",
        "https://alice:hunter2-secret@api.test",
        "https://alice:hunter2-secret@api.test/?x=1",
    ],
)
def test_credentials_in_an_endpoint_never_reach_a_message(endpoint: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncSpeedPix("k", "s", endpoint=endpoint)
    assert "hunter2-secret" not in str(caught.value)
    with pytest.raises(ConfigurationError) as portrait:
        AsyncPortrait(endpoint, "app", "token")
    assert "hunter2-secret" not in str(portrait.value)


def test_a_wrong_scheme_suggests_the_same_address_over_https() -> None:
    with pytest.raises(ConfigurationError, match=r"did you mean 'https://files\.test/api'"):
        AsyncSpeedPix("k", "s", endpoint="ftp://files.test/api")


# ---------------------------------------------------------------------- pickling


def _prediction() -> Prediction:
    return Prediction(id="t-1", status=TaskStatus.FAILED, error="out of memory")


ERRORS: list[SpeedPixError] = [
    SpeedPixError("plain"),
    ConfigurationError("bad config"),
    ClientClosedError("closed"),
    InputError("bad input"),
    APIConnectionError("reset", method="POST", url="https://x.test/a", request_sent=True),
    APITimeoutError("slow", method="GET", url="https://x.test/b", request_sent=False, attempts=3),
    APIError("boom", status_code=500, request_id="r-1", err_code="InternalError", retry_after=2.0),
    SignatureError(
        "sig", status_code=400, client_string_to_sign="POST\n", server_string_to_sign="POST#"
    ),
    ResponseValidationError("garbled", incomplete=True, over_limit=True, status_code=200),
    OutcomeUnknownError("lost", operation="train", attempts=2, request_id="r-2"),
    SubmitOutcomeUnknownError("lost", workflow_id="wf", alias_id="main", attempts=2),
    PredictionFailedError("failed", prediction=_prediction(), error_code="OOM"),
    PredictionTimeoutError(
        "late", task_id="t-1", timeout=5.0, prediction=_prediction(), server_unreachable=True
    ),
    SubmitTimeoutError("late submit", workflow_id="wf", timeout=1.0),
    FaceCountMismatchError("faces", status_code=469, code="error", server_message="number"),
    PortraitJobFailedError("failed", job=Job(id=7, state=JobState.FAILED, message="bad")),
    PortraitJobTimeoutError("late", job_id=7, timeout=3.0, server_unreachable=True),
    JournalDamagedError("damaged", path="/tmp/batch.journal", line=4),
    PortraitTimeoutError("late", operation="check", timeout=3.0),
    PortraitOutcomeTimeoutError("late create", operation="create", timeout=3.0),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_round_trips_through_pickle_with_its_fields(error: SpeedPixError) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert vars(again) == vars(error)
    assert again.args == error.args


def _raise_in_worker(index: int) -> None:
    raise ERRORS[index]


def test_an_error_raised_in_a_process_pool_worker_arrives_typed() -> None:
    index = next(i for i, e in enumerate(ERRORS) if type(e) is SubmitOutcomeUnknownError)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        future = pool.submit(_raise_in_worker, index)
        error = future.exception(timeout=60)
        assert isinstance(error, SubmitOutcomeUnknownError)
        assert error.workflow_id == "wf"
        assert pool.submit(abs, -3).result(timeout=60) == 3  # the pool is not broken


def test_public_errors_show_their_public_module() -> None:
    for error in ERRORS:
        assert type(error).__module__ == "speedpix_async"


# ---------------------------------------------------------------------- signed URLs


SIGNED = ("Signature=", "Expires=", "OSSAccessKeyId=")


async def test_signed_urls_never_reach_the_http_librarys_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator = Emulator(time_scale=0.05)
    async with emulator.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as client:
        uploaded = await client.files.create(b"\x89PNG\r\n\x1a\n" + bytes(64), filename="a.png")
        output = await client.run("wf-echo", {"image": uploaded.access_url})
        await output["echo"]["image"].read()
    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("HTTP Request: PUT") for line in lines), "httpx logged the PUT"
    assert any(line.startswith("PUT http") and " -> 200 in " in line for line in lines), (
        "and so did the SDK"
    )
    for line in lines:
        for marker in SIGNED:
            assert marker not in line, line
    shown = repr(uploaded)
    assert uploaded.access_url.split("?")[0] in shown
    for marker in SIGNED:
        assert marker not in shown


def test_other_urls_in_the_http_log_keep_their_query(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    AsyncSpeedPix("k", "s", endpoint="http://127.0.0.1:9")  # installs the filter
    logging.getLogger("httpx").info('HTTP Request: GET %s "HTTP/1.1 200 OK"', "https://a.test/?q=1")
    assert caplog.records[-1].getMessage().endswith('https://a.test/?q=1 "HTTP/1.1 200 OK"')


@respx.mock
async def test_a_signed_url_in_an_error_body_is_hidden(caplog: pytest.LogCaptureFixture) -> None:
    leaked = "https://bucket.test/k?Expires=1&OSSAccessKeyId=ak&Signature=s3cr3t"
    respx.post("https://api.test/scc/comfy_get_progress").mock(
        return_value=httpx.Response(502, text=f"<html>see {leaked}</html>")
    )
    async with AsyncSpeedPix("k", "s", endpoint="https://api.test") as client:
        with pytest.raises(APIError) as caught:
            await client.with_options(max_retries=0).predictions.progress("t-1")
    assert "s3cr3t" not in str(caught.value)


def _public_error_classes() -> list[type[SpeedPixError]]:
    import speedpix_async

    return [
        value
        for value in vars(speedpix_async).values()
        if isinstance(value, type) and issubclass(value, SpeedPixError)
    ]


def _an_instance(cls: type[SpeedPixError]) -> SpeedPixError:
    explicit = {type(error): error for error in ERRORS}
    if cls in explicit:
        return explicit[cls]
    if issubclass(cls, APIError):
        return cls("refused", status_code=418, request_id="r-9", err_code="Code")
    return cls("plain message")


@pytest.mark.parametrize("cls", _public_error_classes(), ids=lambda cls: cls.__name__)
def test_every_public_error_class_pickles(cls: type[SpeedPixError]) -> None:
    error = _an_instance(cls)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls
    assert vars(again) == vars(error)
    assert str(again) == str(error)


def test_the_tls_context_is_built_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    real = httpx.create_ssl_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", counting)
    tls_context.cache_clear()
    try:
        clients = [AsyncSpeedPix("k", "s", endpoint="http://127.0.0.1:9") for _ in range(5)]
        clients += [AsyncSpeedPix("k", "s", endpoint="https://api.test") for _ in range(5)]
        portraits = [
            AsyncPortrait(app_id="app", token="token", host="https://portrait.test")
            for _ in range(3)
        ]
        wide = build_http_client(timeout=httpx.Timeout(5.0), max_connections=1000)
        assert len(built) == 1
    finally:
        tls_context.cache_clear()
    for client in clients:
        asyncio.run(client.aclose())
    for portrait in portraits:
        asyncio.run(portrait.aclose())
    asyncio.run(wide.aclose())


def test_an_ai_portrait_error_holds_only_its_own_fields() -> None:
    error = PortraitInputError(
        "refused", status_code=462, code="PARAMETER_ERROR", server_message="x", request_id="r-1"
    )
    shared = {"message", "status_code", "method", "url", "request_id", "retry_after"}
    assert set(vars(error)) == shared | {"portrait_code", "server_message"}
    assert error.err_code is None, "SpeedPix's gateway fields read as None, set nowhere"
    with pytest.raises(TypeError, match="unexpected keyword 'err_cod'"):
        APIError("typo", err_cod="X")
