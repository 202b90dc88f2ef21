"""How answers become data or typed errors, with scripted responses."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from speedpix_async import (
    APIError,
    AsyncSpeedPix,
    AuthenticationError,
    BadRequestError,
    NonceReusedError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    SignatureError,
    TaskStatus,
    TimestampError,
)
from speedpix_async._config import RetryPolicy
from speedpix_async._core.retry import is_worth_waiting_out

BASE = "https://speedpix.test"
SECRET = "unit-secret-value"
PROGRESS = f"{BASE}/scc/comfy_get_progress"
RESULT = f"{BASE}/scc/comfy_get_result"
PROMPT = f"{BASE}/scc/comfy_prompt"


@pytest.fixture
async def sp() -> AsyncIterator[AsyncSpeedPix]:
    async with AsyncSpeedPix(
        "unit-key", SECRET, endpoint=BASE, retry_policy=RetryPolicy(max_retries=0)
    ) as client:
        yield client


def envelope(data: dict[str, Any], **extra: Any) -> httpx.Response:
    body = {"status": 10, "apiInvokeId": "i_unit", "data": data, **extra}
    return httpx.Response(200, json=body, headers={"x-ca-request-id": "REQ-1"})


def gateway(status: int, message: str) -> httpx.Response:
    return httpx.Response(
        status, headers={"x-ca-error-message": message, "x-ca-request-id": "REQ-GW"}
    )


@respx.mock
async def test_progress_tolerates_unknown_fields_and_statuses(sp: AsyncSpeedPix) -> None:
    respx.post(PROGRESS).mock(
        return_value=envelope(
            {
                "taskId": "t1",
                "status": "paused",
                "progress": 0.5,
                "etaRelative": 3,
                "brandNewField": {"x": 1},
            },
            anotherTopLevel=True,
        )
    )
    report = await sp.predictions.progress("t1")
    assert report.status == "paused"
    assert isinstance(report.status, TaskStatus)
    assert not report.status.is_known
    assert not report.status.is_terminal
    assert report.eta == 3.0


@respx.mock
async def test_requests_are_signed_and_sent_as_the_exact_bytes(sp: AsyncSpeedPix) -> None:
    route = respx.post(PROGRESS).mock(
        return_value=envelope(
            {"taskId": "t1", "status": "running", "progress": 0.1, "etaRelative": 1}
        )
    )
    await sp.predictions.progress("t1")
    sent = route.calls.last.request
    assert sent.content == b'{"taskId":"t1"}'
    assert (
        sent.headers["content-md5"] == base64.b64encode(hashlib.md5(sent.content).digest()).decode()
    )
    for name in ("x-ca-key", "x-ca-nonce", "x-ca-timestamp", "x-ca-signature", "date"):
        assert sent.headers[name]
    assert sent.headers["accept"] == "application/json; charset=utf-8"
    assert sent.headers["content-type"] == "application/json; charset=utf-8"
    assert SECRET not in str(sent.headers)


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (400, "Invalid AppKey", AuthenticationError),
        (400, "Timestamp Expired", TimestampError),
        (400, "Invalid Timestamp", TimestampError),
        (400, "Nonce Used", NonceReusedError),
        (400, "Invalid Content-MD5", AuthenticationError),
        (401, "Empty Signature", AuthenticationError),
        (403, "Unauthorized", PermissionDeniedError),
        (403, "Throttled by APP Flow Control", RateLimitError),
        (429, "Throttled by API Flow Control", RateLimitError),
        (403, "Quota Exhausted", QuotaExceededError),
        (403, "User Arrears", QuotaExceededError),
        (400, "API Not Found", NotFoundError),
        (400, "Invalid Domain", BadRequestError),
        (503, "Service Unavailable", ServerError),
        (500, "Failed To Invoke Backend Service", ServerError),
        (400, "Something New", BadRequestError),
        (418, "Something Newer", APIError),
    ],
)
@respx.mock
async def test_gateway_messages_map_to_typed_errors(
    sp: AsyncSpeedPix, status: int, message: str, cls: type[APIError]
) -> None:
    respx.post(PROGRESS).mock(return_value=gateway(status, message))
    with pytest.raises(cls) as info:
        await sp.predictions.progress("t1")
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.gateway_message == message
    assert err.request_id == "REQ-GW"
    assert "REQ-GW" in str(err)
    assert SECRET not in str(err)


@respx.mock
async def test_signature_rejection_shows_both_strings_to_sign(sp: AsyncSpeedPix) -> None:
    server_sts = "POST#application/json#x#y#date#x-ca-key:unit-key#/scc/comfy_get_progress"
    respx.post(PROGRESS).mock(
        return_value=gateway(400, "Invalid Signature, Server StringToSign:" + server_sts)
    )
    with pytest.raises(SignatureError) as info:
        await sp.predictions.progress("t1")
    err = info.value
    assert err.server_string_to_sign == server_sts.replace("#", "\n")
    assert err.client_string_to_sign is not None
    assert err.client_string_to_sign.endswith("\n/scc/comfy_get_progress")
    text = str(err)
    assert "server StringToSign" in text
    assert "client StringToSign" in text
    assert "SPEEDPIX_APP_SECRET" in text
    assert SECRET not in text


@respx.mock
async def test_envelope_errors_carry_every_code(sp: AsyncSpeedPix) -> None:
    respx.post(PROGRESS).mock(
        return_value=httpx.Response(
            200,
            json={
                "status": 20,
                "apiInvokeId": "i_42",
                "errCode": "TaskNotFound",
                "errMessage": "no such task",
                "subErrCode": "Backend.TaskMissing",
                "subErrMessage": "task t1 is unknown",
            },
            headers={"x-ca-request-id": "REQ-9"},
        )
    )
    with pytest.raises(NotFoundError) as info:
        await sp.predictions.progress("t1")
    err = info.value
    assert (err.status, err.err_code, err.sub_err_code) == (
        20,
        "TaskNotFound",
        "Backend.TaskMissing",
    )
    assert (err.err_message, err.sub_err_message) == ("no such task", "task t1 is unknown")
    assert (err.api_invoke_id, err.request_id) == ("i_42", "REQ-9")
    assert err.code == "Backend.TaskMissing"
    for fragment in ("TaskNotFound", "Backend.TaskMissing", "i_42", "REQ-9", "task t1 is unknown"):
        assert fragment in str(err)


@pytest.mark.parametrize(
    ("err_code", "sub_code", "cls", "transient"),
    [
        ("Throttling.User", None, RateLimitError, True),
        ("InvalidParameter", None, BadRequestError, False),
        ("InternalError", "SystemBusy", ServerError, True),
        (None, "QuotaExceeded", QuotaExceededError, False),
        ("TaskFailed", "InternalError", APIError, False),
        ("Mystery", None, APIError, False),
    ],
)
@respx.mock
async def test_envelope_codes_are_classified_conservatively(
    sp: AsyncSpeedPix,
    err_code: str | None,
    sub_code: str | None,
    cls: type[APIError],
    transient: bool,
) -> None:
    body: dict[str, Any] = {"status": 20, "errMessage": "x"}
    if err_code:
        body["errCode"] = err_code
    if sub_code:
        body["subErrCode"] = sub_code
    respx.post(PROGRESS).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(cls) as info:
        await sp.predictions.progress("t1")
    assert type(info.value) is cls
    assert is_worth_waiting_out(info.value) is transient


@pytest.mark.parametrize(
    ("response", "cls", "fragment", "transient"),
    [
        (
            httpx.Response(
                502,
                text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                headers={"content-type": "text/html"},
            ),
            ServerError,
            "proxy or load balancer",
            True,
        ),
        (httpx.Response(200, content=b""), ResponseValidationError, "empty body", True),
        (
            httpx.Response(
                200,
                text="<!doctype html><title>Welcome</title>",
                headers={"content-type": "text/html"},
            ),
            ResponseValidationError,
            "SPEEDPIX_ENDPOINT",
            False,
        ),
        (
            httpx.Response(
                200,
                content=b'{"status":10,"data":{"taskId":"t',
                headers={"content-type": "application/json"},
            ),
            ResponseValidationError,
            "truncated",
            True,
        ),
        (httpx.Response(200, json=[1, 2]), ResponseValidationError, "JSON object", False),
        (httpx.Response(200, json={"status": 10}), ResponseValidationError, "no data", False),
        (
            httpx.Response(301, headers={"location": "https://elsewhere.test/x?token=abc"}),
            ResponseValidationError,
            "redirect",
            False,
        ),
    ],
    ids=[
        "html-502",
        "empty-200",
        "html-200",
        "truncated-json",
        "json-array",
        "no-data",
        "redirect",
    ],
)
@respx.mock
async def test_broken_answers_get_clear_errors(
    sp: AsyncSpeedPix, response: httpx.Response, cls: type[APIError], fragment: str, transient: bool
) -> None:
    respx.post(PROGRESS).mock(return_value=response)
    with pytest.raises(cls) as info:
        await sp.predictions.progress("t1")
    assert fragment in str(info.value)
    assert is_worth_waiting_out(info.value) is transient
    assert "token=abc" not in str(info.value)


@respx.mock
async def test_a_missing_task_id_names_the_field(sp: AsyncSpeedPix) -> None:
    respx.post(RESULT).mock(return_value=envelope({"status": "succeeded", "result": {}}))
    with pytest.raises(ResponseValidationError, match=r"\$\.data\.taskId"):
        await sp.predictions.result("t1")


@respx.mock
async def test_excerpts_of_bad_bodies_hide_signed_url_queries(sp: AsyncSpeedPix) -> None:
    body = b'{"status":10,"data":{"uploadUrl":"http://store.test/put/x?token=SECRETTOKEN&exp=1'
    respx.post(PROGRESS).mock(
        return_value=httpx.Response(200, content=body, headers={"content-type": "application/json"})
    )
    with pytest.raises(ResponseValidationError) as info:
        await sp.predictions.progress("t1")
    assert "SECRETTOKEN" not in str(info.value)
    assert "http://store.test/put/x?…" in str(info.value)


@respx.mock
async def test_unset_optional_fields_are_omitted_from_the_submit_body(sp: AsyncSpeedPix) -> None:
    route = respx.post(PROMPT).mock(return_value=envelope({"taskId": "t9", "status": "waiting"}))
    handle = await sp.predictions.create(
        "wf", {"prompt": "猫"}, resource_config_id="pool-a,default"
    )
    assert handle.id == "t9"
    request = route.calls.last.request
    assert json.loads(request.content) == {
        "workflow_id": "wf",
        "inputs": {"prompt": "猫"},
        "alias_id": "main",
    }
    assert "猫".encode() in request.content  # UTF-8, not \\u escapes
    assert request.headers["x-sp-resource-config-id"] == "pool-a,default"


@respx.mock
async def test_version_id_replaces_the_default_alias(sp: AsyncSpeedPix) -> None:
    route = respx.post(PROMPT).mock(return_value=envelope({"taskId": "t9", "status": "waiting"}))
    await sp.predictions.create(
        "wf", {}, version_id="v2", randomise_seeds=True, return_temp_files=False
    )
    assert json.loads(route.calls.last.request.content) == {
        "workflow_id": "wf",
        "inputs": {},
        "version_id": "v2",
        "randomise_seeds": True,
        "return_temp_files": False,
    }
    assert "x-sp-resource-config-id" not in route.calls.last.request.headers
