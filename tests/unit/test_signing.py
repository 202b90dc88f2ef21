"""Every worked signing vector: the API gateway's and PAI's (docs/protocol.md)."""

from __future__ import annotations

import uuid

import pytest

from speedpix_async._signing import (
    GatewaySigner,
    PaiSigner,
    canonical_path,
    content_md5,
    gateway_date,
    gateway_signature,
    gateway_string_to_sign,
    md5_hex,
    pai_sign_string,
    pai_signature,
    random_nonce,
)

KEY = "test-app-key"
SECRET = "test-app-secret"
NONCE = "c9f15cbf-f4ac-4a6c-b54d-f51abf4b5b44"
NOW = 1700000000.000
DATE = "Tue, 14 Nov 2023 22:13:20 GMT+00:00"

PROMPT_BODY = b'{"workflow_id":"wf_123","alias_id":"main","inputs":{"prompt":"a cat"}}'
PYTHON_SDK_PROMPT_BODY = (
    b'{"workflow_id":"wf_123","version_id":null,"inputs":{"prompt":"a cat"},'
    b'"alias_id":"main","randomise_seeds":null,"return_temp_files":null}'
)

EXPECTED_STS = (
    "POST\n"
    "application/json; charset=utf-8\n"
    "aszxtJe/y0b1kGk/icroeQ==\n"
    "application/json; charset=utf-8\n"
    "Tue, 14 Nov 2023 22:13:20 GMT+00:00\n"
    "x-ca-key:test-app-key\n"
    "x-ca-nonce:c9f15cbf-f4ac-4a6c-b54d-f51abf4b5b44\n"
    "x-ca-signature-method:HmacSHA256\n"
    "x-ca-timestamp:1700000000000\n"
    "/scc/comfy_prompt"
)


def _sign(path: str, body: bytes | None) -> tuple[dict[str, str], str]:
    sig = GatewaySigner(KEY, SECRET).sign(method="POST", path=path, body=body, now=NOW, nonce=NONCE)
    return sig.headers, sig.string_to_sign


def test_date_header_matches_the_sdk_format() -> None:
    assert gateway_date(NOW) == DATE


def test_worked_example_comfy_prompt() -> None:
    assert len(PROMPT_BODY) == 70
    headers, sts = _sign("/scc/comfy_prompt", PROMPT_BODY)
    assert headers["content-md5"] == "aszxtJe/y0b1kGk/icroeQ=="
    assert sts == EXPECTED_STS
    assert headers["x-ca-signature"] == "3ZcrX+Dq7+KM/nPF1GDsM5HwGW0Gm0x5WM46PVACiI0="
    assert headers["x-ca-timestamp"] == "1700000000000"
    assert headers["x-ca-key"] == KEY
    assert headers["x-ca-nonce"] == NONCE
    assert headers["date"] == DATE
    assert headers["x-ca-signature-headers"] == (
        "x-ca-timestamp,x-ca-key,x-ca-nonce,x-ca-signature-method"
    )


@pytest.mark.parametrize(
    ("path", "body", "md5", "signature"),
    [
        (
            "/scc/comfy_get_progress",
            b'{"taskId":"1234567890"}',
            "axvejRx0+mkXcbbyO0DNLw==",
            "J30E36EfPowdyzRNfx8nQhlhygVcO57iJRD3MQuLV5A=",
        ),
        (
            "/scc/sp_create_temp_file_upload_sign",
            b'{"contentType":"image/png","originalFilename":"a.png"}',
            "ds24mXNyZYcYfs5KcA8FVg==",
            "iz53OdoA4TPX1QPgaaP14vpo1B40wNj7oEG6FCJ7+Po=",
        ),
        (
            "/scc/comfy_prompt",
            PYTHON_SDK_PROMPT_BODY,
            "4ArVIlBHhtuWSqHher5wlg==",
            "1OHNX0+QdmMNNxXmzyIVRUV4rDv9qhERvsnpFLBcZSI=",
        ),
    ],
    ids=["progress", "upload-sign", "python-sdk-nulls"],
)
def test_extra_gateway_vectors(path: str, body: bytes, md5: str, signature: str) -> None:
    headers, _ = _sign(path, body)
    assert content_md5(body) == md5
    assert headers["content-md5"] == md5
    assert headers["x-ca-signature"] == signature


def test_python_sdk_body_is_136_bytes() -> None:
    assert len(PYTHON_SDK_PROMPT_BODY) == 136


def test_empty_md5_line_java_style() -> None:
    # The Java SDK signs comfy_prompt with an empty Content-MD5 line and no header.
    headers, sts = _sign("/scc/comfy_prompt", None)
    assert "content-md5" not in headers
    assert sts.split("\n")[2] == ""
    assert headers["x-ca-signature"] == "pMi2BJ/aflRpnqiZubt9YC9TjmX7BqydDgFC7K1KW7Y="


def test_generic_gateway_get_with_query() -> None:
    x_ca = {
        "x-ca-key": KEY,
        "x-ca-nonce": NONCE,
        "x-ca-signature-method": "HmacSHA256",
        "x-ca-timestamp": "1700000000000",
    }
    path = canonical_path("/demo", {"a": "1", "b": "", "c": "3"})
    assert path == "/demo?a=1&b&c=3"
    sts = gateway_string_to_sign(
        method="GET",
        accept="application/json; charset=utf-8",
        content_md5=None,
        content_type="application/json; charset=utf-8",
        date=DATE,
        headers=x_ca,
        signed_header_names=list(x_ca),
        path_and_parameters=path,
    )
    assert sts.split("\n")[2] == ""
    assert gateway_signature(SECRET, sts) == "L5eSuV10H5cC0EHjIw6JyOix3KayfJjAClqd48qbzz4="


def test_canonical_path_uses_first_value_and_sorts_keys() -> None:
    assert canonical_path("/p", {"z": ["2", "9"], "a": ["1"]}) == "/p?a=1&z=2"
    assert canonical_path("/p", None) == "/p"


def test_each_attempt_gets_a_fresh_nonce_and_signature() -> None:
    signer = GatewaySigner(KEY, SECRET)
    a = signer.sign(method="POST", path="/scc/comfy_get_progress", body=b"{}", now=NOW)
    b = signer.sign(method="POST", path="/scc/comfy_get_progress", body=b"{}", now=NOW)
    assert a.headers["x-ca-nonce"] != b.headers["x-ca-nonce"]
    assert a.headers["x-ca-signature"] != b.headers["x-ca-signature"]


def test_nonces_are_random_version_4_uuids() -> None:
    nonces = [random_nonce() for _ in range(2000)]
    assert len(set(nonces)) == len(nonces)
    for nonce in nonces:
        parsed = uuid.UUID(nonce)
        assert str(parsed) == nonce  # canonical, lower-case text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # Every variant digit (8, 9, a, b) occurs: the two variant bits are fixed, the rest random.
    assert {nonce[19] for nonce in nonces} == set("89ab")


def test_signer_repr_hides_the_secret() -> None:
    assert SECRET not in repr(GatewaySigner(KEY, SECRET))
    assert "tok-secret" not in repr(PaiSigner("app", "tok-secret"))


def test_hmac_sha1_is_supported_and_unknown_methods_are_refused() -> None:
    assert gateway_signature(SECRET, "x", "HmacSHA1") != gateway_signature(SECRET, "x")
    with pytest.raises(ValueError, match="HmacMD5"):
        gateway_signature(SECRET, "x", "HmacMD5")


# ---------------------------------------------------------------------- PAI

APP_ID = "test-app-id"
TOKEN = "test-token"
CHECK_BODY_GO = (
    b'{"action":"AIGCImageCheck","images":["https://example.com/1.jpg",'
    b'"https://example.com/2.jpg"]}\n'
)


def test_pai_worked_example_go_body() -> None:
    assert len(CHECK_BODY_GO) == 95
    assert md5_hex(CHECK_BODY_GO) == "28ee03c9dcdd82798caefce8234fc671"
    sign_string = pai_sign_string("POST", CHECK_BODY_GO, "/api/v1/aigc_images/check")
    assert sign_string == "POST\n28ee03c9dcdd82798caefce8234fc671\n/api/v1/aigc_images/check"
    signature = "25753c98b4e323ec9e27eb406d8b5e4fe1a140d625c2e9cbde1885b854847d9d"
    assert pai_signature(TOKEN, sign_string) == signature
    signed = PaiSigner(APP_ID, TOKEN).sign(
        method="POST", path="/api/v1/aigc_images/check", body=CHECK_BODY_GO, now=1700000000
    )
    assert signed.headers["authorization"] == f"{APP_ID}:{signature}"
    assert signed.headers["x-request-time"] == "1700000000"


@pytest.mark.parametrize(
    ("method", "body", "path", "params", "sign_string", "signature"),
    [
        (
            "POST",
            CHECK_BODY_GO[:-1],
            "/api/v1/aigc_images/check",
            None,
            "POST\nab05c967b142c0a90a656d21ea6ff569\n/api/v1/aigc_images/check",
            "6002be414be937fe875a591ce59bbae340ba89a8853150011c07d7d55acbaf50",
        ),
        (
            "POST",
            b"",
            "/api/v1/async_jobs/12345",
            None,
            "POST\nd41d8cd98f00b204e9800998ecf8427e\n/api/v1/async_jobs/12345",
            "febc075d8aea6ca7becae30a40f84d05ed1585246f62baf076723d840376a2f1",
        ),
        (
            "GET",
            b"",
            "/api/v1/batch_jobs/7",
            {"b": "2", "a": "1", "c": "", "sign": "x"},
            "GET\nd41d8cd98f00b204e9800998ecf8427e\n/api/v1/batch_jobs/7?a=1&b=2&c=",
            "56c8121b6fc637a0b6b7ab41e477a66f75aaade03c71095b6ef167369db1a62a",
        ),
    ],
    ids=["java-body", "empty-body-job", "query"],
)
def test_pai_vectors(
    method: str,
    body: bytes,
    path: str,
    params: dict[str, str] | None,
    sign_string: str,
    signature: str,
) -> None:
    assert pai_sign_string(method, body, path, params) == sign_string
    assert pai_signature(TOKEN, sign_string) == signature
