"""Bad input gets a clear error: the exact class, and a message that says what to change."""

from __future__ import annotations

import io
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from speedpix_async import (
    AsyncSpeedPix,
    AuthenticationError,
    ConfigurationError,
    InputError,
    LocalFileAsTextWarning,
    PollPolicy,
    ResponseValidationError,
    RetryPolicy,
    ServerError,
    SignatureError,
    SubmitOutcomeUnknownError,
)
from speedpix_async.emulator import Emulator

SECRET = "table-secret"
NO_RETRY = RetryPolicy(max_retries=0)

Case = Callable[[Path], Awaitable[Any]]


def emulator_client(**kwargs: Any) -> AsyncSpeedPix:
    return Emulator(app_secret=SECRET).client(
        app_secret=kwargs.pop("app_secret", SECRET), retry_policy=NO_RETRY, **kwargs
    )


def answering(response: httpx.Response) -> AsyncSpeedPix:
    """A client whose every request gets ``response`` (a proxy, a wrong endpoint…)."""
    return AsyncSpeedPix(
        "k",
        SECRET,
        endpoint="https://api.test",
        transport=httpx.MockTransport(lambda r: response),
        retry_policy=NO_RETRY,
    )


async def run_with(client: AsyncSpeedPix, *args: Any, **kwargs: Any) -> Any:
    async with client:
        return await client.run(*args, **kwargs)


async def many_with(client: AsyncSpeedPix, inputs: list[Any], **kwargs: Any) -> Any:
    async with client:
        return [result async for result in client.run_many("wf-echo", inputs, **kwargs)]


def circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["loop"] = loop
    return loop


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


async def poll_with(client: AsyncSpeedPix) -> Any:
    async with client:
        return await client.predictions.get("1234567890")


PROXY_PAGE = httpx.Response(
    502, text="<html><h1>502 Bad Gateway</h1></html>", headers={"content-type": "text/html"}
)


async def construct(**kwargs: Any) -> Any:
    return AsyncSpeedPix(**kwargs)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


CASES: list[tuple[str, Case, type[Exception], str]] = [
    # -- configuration ----------------------------------------------------------------------
    (
        "half a credential pair",
        lambda p: construct(app_key="k"),
        ConfigurationError,
        "pass both app_key= and app_secret=",
    ),
    (
        "no credentials at all",
        lambda p: construct(),
        ConfigurationError,
        "set the SPEEDPIX_APP_KEY and SPEEDPIX_APP_SECRET",
    ),
    (
        "endpoint without a scheme",
        lambda p: construct(app_key="k", app_secret=SECRET, endpoint="openai.edu-aliyun.com"),
        ConfigurationError,
        "did you mean 'https://openai.edu-aliyun.com'",
    ),
    (
        "endpoint with a query string",
        lambda p: construct(app_key="k", app_secret=SECRET, endpoint="https://x.test/?k=v"),
        ConfigurationError,
        "give only scheme, host, port",
    ),
    (
        "negative request timeout",
        lambda p: construct(app_key="k", app_secret=SECRET, timeout=-1),
        ConfigurationError,
        "timeout must be a finite number > 0",
    ),
    (
        "negative max_retries",
        lambda p: construct(app_key="k", app_secret=SECRET, max_retries=-1),
        ConfigurationError,
        "max_retries must be >= 0",
    ),
    (
        "a secret pasted with a newline",
        lambda p: construct(app_key="k", app_secret=SECRET + "\n"),
        ConfigurationError,
        "copy it again from the SpeedPix console",
    ),
    (
        "a blocking http client",
        lambda p: construct(app_key="k", app_secret=SECRET, http_client=httpx.Client()),
        ConfigurationError,
        "must be an httpx.AsyncClient",
    ),
    # -- arguments ---------------------------------------------------------------------------
    (
        "wait deadline of -1",
        lambda p: run_with(emulator_client(), "wf-echo", {}, timeout=-1),
        InputError,
        "timeout must be a finite number of seconds > 0",
    ),
    (
        "a value JSON cannot carry",
        lambda p: run_with(emulator_client(), "wf-echo", {"when": object()}),
        InputError,
        'input["when"] is a object',
    ),
    (
        "NaN in the input",
        lambda p: run_with(emulator_client(), "wf-echo", {"cfg": float("nan")}),
        InputError,
        "send a finite number",
    ),
    (
        "input that is not a dict",
        lambda p: run_with(emulator_client(), "wf-echo", ["a"]),
        InputError,
        "input must be a dict mapping",
    ),
    (
        "alias and version together",
        lambda p: run_with(emulator_client(), "wf-echo", {}, alias_id="main", version_id="v1"),
        InputError,
        "pass either alias_id or version_id",
    ),
    (
        "an unknown encoding strategy",
        lambda p: run_with(emulator_client(), "wf-echo", {}, file_encoding_strategy="zip"),
        InputError,
        "must be 'url' or 'base64'",
    ),
    (
        "a zero polling interval",
        lambda p: run_with(emulator_client(), "wf-echo", {}, polling_interval=0),
        InputError,
        "polling_interval must be a finite number",
    ),
    (
        "a polling interval of a microsecond",
        lambda p: run_with(emulator_client(), "wf-echo", {}, polling_interval=1e-6),
        InputError,
        "polling_interval must be at least 0.05 s",
    ),
    (
        "a poll policy polling every microsecond",
        lambda p: run_with(emulator_client(poll_policy=PollPolicy(min_interval=1e-6)), "wf", {}),
        ConfigurationError,
        "PollPolicy.min_interval must be at least 0.05 s",
    ),
    (
        "a million predictions at once",
        lambda p: many_with(emulator_client(), [{}], concurrency=10**6),
        InputError,
        "concurrency must be at most 10,000",
    ),
    (
        "an input that contains itself",
        lambda p: run_with(emulator_client(), "wf-echo", circular()),
        InputError,
        """input["loop"] contains itself""",
    ),
    (
        "an input 5,000 levels deep",
        lambda p: run_with(emulator_client(), "wf-echo", {"deep": nested(5000)}),
        InputError,
        "nested more than 100 levels deep; flatten it",
    ),
    (
        "a text file named like a picture",
        lambda p: run_with(
            emulator_client(), "wf-echo", {"image": str(write(p / "notes.png", b"API_TOKEN=x"))}
        ),
        InputError,
        "is written as a media file path but is not an image, video or audio file",
    ),
    (
        "a header value with a NUL",
        lambda p: run_with(emulator_client(), "wf-echo", {}, resource_config_id="pool\x00"),
        InputError,
        "control character",
    ),
    (
        "an on_progress that is not callable",
        lambda p: run_with(emulator_client(), "wf-echo", {}, on_progress="print"),
        InputError,
        "must be a function taking one Progress",
    ),
    (
        "resource pools with spaces",
        lambda p: run_with(emulator_client(), "wf-echo", {}, resource_config_id="a, b"),
        InputError,
        "comma-separated list of ids without spaces",
    ),
    # -- files -------------------------------------------------------------------------------
    (
        "a directory passed as a file",
        lambda p: run_with(emulator_client(), "wf-echo", {"image": p}),
        InputError,
        "is a directory, not a file; pass a file path",
    ),
    (
        "a missing Path",
        lambda p: run_with(emulator_client(), "wf-echo", {"image": p / "nope.png"}),
        InputError,
        "no such file",
    ),
    (
        "a typo in a local path",
        lambda p: run_with(emulator_client(), "wf-echo", {"image": f"{p}/inptu.jpg"}),
        InputError,
        "fix the path — or, if it is meant as text",
    ),
    (
        "a file opened in text mode",
        lambda p: run_with(emulator_client(), "wf-echo", {"image": io.StringIO("x")}),
        InputError,
        "open it with 'rb'",
    ),
    (
        "base64 over 1 MiB",
        lambda p: run_with(
            emulator_client(),
            "wf-echo",
            {"image": write(p / "big.png", bytes(2 << 20))},
            file_encoding_strategy="base64",
        ),
        InputError,
        "use file_encoding_strategy='url'",
    ),
    # -- server answers ----------------------------------------------------------------------
    (
        "an HTML error page from a proxy",
        lambda p: poll_with(answering(PROXY_PAGE)),
        ServerError,
        "a proxy or load balancer answered instead of the SpeedPix API",
    ),
    (
        "… in answer to a submit",
        lambda p: run_with(answering(PROXY_PAGE), "wf", {}),
        SubmitOutcomeUnknownError,
        "a proxy or load balancer answered",
    ),
    (
        "an empty 200 body",
        lambda p: poll_with(answering(httpx.Response(200, content=b""))),
        ResponseValidationError,
        "check that the endpoint points at the SpeedPix API",
    ),
    (
        "… in answer to a submit",
        lambda p: run_with(answering(httpx.Response(200, content=b"")), "wf", {}),
        SubmitOutcomeUnknownError,
        "empty body instead of a JSON envelope",
    ),
    (
        "a web page instead of the API",
        lambda p: run_with(
            answering(
                httpx.Response(
                    200,
                    text="<!doctype html><title>Home</title>",
                    headers={"content-type": "text/html"},
                )
            ),
            "wf",
            {},
        ),
        ResponseValidationError,
        "SPEEDPIX_ENDPOINT / endpoint=) probably points at a web page",
    ),
    (
        "a submit answer without taskId",
        lambda p: run_with(
            answering(httpx.Response(200, json={"status": 10, "data": {"status": "waiting"}})),
            "wf",
            {},
        ),
        ResponseValidationError,
        "required field missing @ $.data.taskId",
    ),
    (
        "an envelope that is a list",
        lambda p: run_with(answering(httpx.Response(200, json=[])), "wf", {}),
        ResponseValidationError,
        "expected a JSON object envelope",
    ),
    (
        "the wrong app secret",
        lambda p: run_with(emulator_client(app_secret="not-it"), "wf-echo", {}),
        SignatureError,
        "check app_secret / SPEEDPIX_APP_SECRET",
    ),
    (
        "an unknown app key",
        lambda p: run_with(
            Emulator().client(app_key="stranger", retry_policy=NO_RETRY), "wf-echo", {}
        ),
        AuthenticationError,
        "check app_key / SPEEDPIX_APP_KEY",
    ),
]


@pytest.mark.parametrize(
    ("case", "expected", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_input_gets_a_clear_error(
    tmp_path: Path, case: Case, expected: type[Exception], fragment: str
) -> None:
    with pytest.raises(expected) as info:
        await case(tmp_path)
    assert type(info.value) is expected
    assert fragment in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 20


async def test_a_bare_string_naming_a_local_media_file_warns_with_the_fix(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 64)
    with pytest.warns(LocalFileAsTextWarning, match=r"Path\('in.jpg'\) or write './in.jpg'"):
        out = await client.run("wf-echo", {"image": "in.jpg"})
    assert out["echo"]["image"] == "in.jpg", "still sent as the text it is"
    # Text that names no file, or a client that always sends text: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await client.run("wf-echo", {"image": "other.jpg", "note": "a.png is nice"})
        async with emulator.client(upload_local_paths=False) as text_only:
            await text_only.run("wf-echo", {"image": "in.jpg"})


async def test_an_unknown_option_is_refused_with_the_closest_name(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    with pytest.raises(
        InputError, match=r"run\(\) takes no option 'alais_id'; did you mean 'alias_id'"
    ):
        await client.run("wf-echo", {}, alais_id="main")  # type: ignore[call-overload]
    with pytest.raises(InputError, match=r"predictions.create\(\) takes no option 'timeout'"):
        await client.predictions.create("wf-echo", {}, timeout=3)  # type: ignore[call-arg]
    with pytest.raises(InputError, match=r"run_many\(\) takes no option 'concurency'"):
        client.run_many("wf-echo", [{}], concurency=3)  # type: ignore[call-arg]
    assert sum(emulator.stats.requests.values()) == 0, "nothing was sent"
