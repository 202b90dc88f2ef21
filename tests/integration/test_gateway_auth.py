"""Each gateway rejection, end to end against the emulator."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from speedpix_async import (
    AuthenticationError,
    NonceReusedError,
    SignatureError,
    TimestampError,
)
from speedpix_async._signing import GatewaySigner
from speedpix_async.emulator import Emulator
from tests._proxies import BodyRewritingProxy, HeaderRewritingProxy, ReplayingProxy
from tests.conftest import FAST_RETRY

SECRET = "demo-app-secret"


async def test_wrong_secret_is_a_signature_error_showing_both_strings(emulator: Emulator) -> None:
    async with emulator.client(app_secret="not-the-secret", retry_policy=FAST_RETRY) as client:
        with pytest.raises(SignatureError) as info:
            await client.run("wf-echo", {"x": 1})
    err = info.value
    assert err.status_code == 400
    assert err.server_string_to_sign is not None
    assert err.client_string_to_sign is not None
    # Same bytes, same headers: only the secret differs, and the message says so.
    assert err.server_string_to_sign == err.client_string_to_sign
    assert "/scc/comfy_prompt" in err.server_string_to_sign
    assert "app secret" in str(err)
    assert "not-the-secret" not in str(err)
    assert SECRET not in str(err)
    assert emulator.stats.snapshot()["auth_rejections"]["by_reason"] == {"invalid_signature": 1}
    assert emulator.stats.tasks_created == 0


async def test_unknown_app_key(emulator: Emulator) -> None:
    async with emulator.client(app_key="nobody", retry_policy=FAST_RETRY) as client:
        with pytest.raises(AuthenticationError, match="SPEEDPIX_APP_KEY") as info:
            await client.predictions.get("123")
    assert info.value.gateway_message == "Invalid AppKey"
    assert emulator.stats.snapshot()["auth_rejections"]["by_reason"] == {"invalid_app_key": 1}


async def test_replayed_nonce_is_rejected(emulator: Emulator) -> None:
    proxy = ReplayingProxy(emulator.transport())
    async with emulator.client(transport=proxy, retry_policy=FAST_RETRY) as client:
        first = await client.predictions.create("wf-echo", {"n": 1})
        with pytest.raises(NonceReusedError, match="fresh") as info:
            await client.predictions.create("wf-echo", {"n": 2})
    assert first.id
    assert info.value.gateway_message == "Nonce Used"
    # The replay carried the first request's nonce; our own attempts never reuse one.
    nonces = [r.headers["x-ca-nonce"] for r in proxy.requests]
    assert nonces[0] == nonces[1]
    assert emulator.stats.tasks_created == 1


async def test_stale_timestamp_is_a_timestamp_error(emulator: Emulator) -> None:
    stale = str(int((time.time() - 20 * 60) * 1000))
    proxy = HeaderRewritingProxy(emulator.transport(), request_headers={"x-ca-timestamp": stale})
    async with emulator.client(transport=proxy, retry_policy=FAST_RETRY) as client:
        with pytest.raises(TimestampError, match="clock") as info:
            await client.predictions.get("123")
    assert info.value.gateway_message == "Timestamp Expired"


async def test_non_numeric_timestamp(emulator: Emulator) -> None:
    proxy = HeaderRewritingProxy(emulator.transport(), request_headers={"x-ca-timestamp": "soon"})
    async with emulator.client(transport=proxy, retry_policy=FAST_RETRY) as client:
        with pytest.raises(TimestampError) as info:
            await client.predictions.get("123")
    assert info.value.gateway_message == "Invalid Timestamp"


async def test_a_body_changed_in_transit_fails_the_md5_check(emulator: Emulator) -> None:
    def reserialize(body: bytes) -> bytes:  # what httpx < 0.28 does with json=
        return json.dumps(json.loads(body)).encode()

    proxy = BodyRewritingProxy(emulator.transport(), reserialize)
    async with emulator.client(transport=proxy, retry_policy=FAST_RETRY) as client:
        with pytest.raises(AuthenticationError, match="changed the body") as info:
            await client.run("wf-echo", {"x": 1})
    assert info.value.gateway_message == "Invalid Content-MD5"
    assert emulator.stats.tasks_created == 0


async def test_gateway_order_checks_the_key_before_anything_else(emulator: Emulator) -> None:
    async with httpx.AsyncClient(transport=emulator.transport(), base_url="http://emu") as raw:
        response = await raw.post("/scc/comfy_get_progress", content=b"{}")
        assert response.status_code == 400
        assert response.headers["x-ca-error-message"] == "Invalid AppKey"
        assert response.headers["x-ca-request-id"]
        missing_signature = await raw.post(
            "/scc/comfy_get_progress", content=b"{}", headers={"x-ca-key": "demo-app-key"}
        )
        assert missing_signature.status_code == 401
        assert missing_signature.headers["x-ca-error-message"] == "Empty Signature"
        unknown_path = await raw.post("/scc/nope", content=b"{}")
        assert unknown_path.headers["x-ca-error-message"] == "API Not Found"
        wrong_method = await raw.get("/scc/comfy_get_progress")
        assert wrong_method.headers["x-ca-error-message"] == "Invalid HttpMethod"


async def _raw_post(
    emulator: Emulator, path: str, body: bytes, *, sign_body: bool
) -> httpx.Response:
    signer = GatewaySigner(emulator.app_key, emulator.app_secret)
    signature = signer.sign(method="POST", path=path, body=body if sign_body else None)
    async with httpx.AsyncClient(transport=emulator.transport(), base_url="http://emu") as raw:
        return await raw.post(path, content=body, headers=signature.headers)


async def test_java_style_signing_without_md5_is_accepted(emulator: Emulator) -> None:
    # The Java SDK signs comfy_prompt with an empty Content-MD5 line.
    body = b'{"workflow_id":"wf-echo","alias_id":"main","inputs":{"a":1}}'
    response = await _raw_post(emulator, "/scc/comfy_prompt", body, sign_body=False)
    assert response.status_code == 200
    assert response.json()["status"] == 10
    assert response.json()["data"]["taskId"]


async def test_python_sdk_nulls_are_treated_as_absent(emulator: Emulator) -> None:
    body = (
        b'{"workflow_id":"wf-echo","version_id":null,"inputs":{"prompt":"\xe7\x8c\xab"},'
        b'"alias_id":"main","randomise_seeds":null,"return_temp_files":null}'
    )
    response = await _raw_post(emulator, "/scc/comfy_prompt", body, sign_body=True)
    payload = response.json()
    assert payload["status"] == 10, payload
    assert set(payload["data"]) == {"taskId", "status", "estimatedDurationInSeconds"}
    assert payload["data"]["status"] == "waiting"
    assert payload["apiInvokeId"].startswith("i_")
