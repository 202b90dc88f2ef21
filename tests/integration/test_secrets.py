"""No secret in any repr, log line or exception message."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx
import pytest

from speedpix_async import AsyncPortrait, AsyncSpeedPix, SpeedPixError, SubmitOutcomeUnknownError
from speedpix_async._signing import GatewaySigner
from speedpix_async.emulator import Emulator, LoopbackServer
from speedpix_async.speedpix.config import resolve_config
from tests.conftest import FAST_POLL, FAST_RETRY

SECRET = "the-real-secret-4f7a"


async def test_secret_never_appears_in_errors_reprs_or_logs(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    emulator = Emulator(app_secret=SECRET, time_scale=0.05)
    errors: list[BaseException] = []
    async with emulator.client(retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as good:
        await good.run("wf-echo", {"x": 1})
        for call in (
            lambda: good.run("wf-fail", {}),
            lambda: good.run("wf-missing", {}),
            lambda: good.run("wf-sleep", {"seconds": 100}, timeout=0.01),
            lambda: good.predictions.get("no-such-task"),
            lambda: good.run("wf-echo", {"bad": object()}),
        ):
            try:
                await call()
            except SpeedPixError as exc:
                errors.append(exc)
        reprs = [
            repr(good),
            repr(good.with_options(max_retries=0)),
            repr(resolve_config(app_key=good.app_key, app_secret=SECRET, env={})),
            repr(GatewaySigner(good.app_key, SECRET)),
        ]
    async with emulator.client(app_secret=SECRET + "-wrong", retry_policy=FAST_RETRY) as bad:
        try:
            await bad.run("wf-echo", {})
        except SpeedPixError as exc:
            errors.append(exc)
    assert len(errors) == 6
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + reprs
    texts += [record.getMessage() for record in debug_log.records]
    assert debug_log.records, "the SDK logs its decisions at debug level"
    for text in texts:
        assert SECRET not in text
        assert "x-ca-signature:" not in text.lower()


# ---------------------------------------------------------------------- signed requests


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_SIGNED = ("x-ca-signature", "authorization")


def _holds_a_signed_request(root: BaseException) -> list[str]:
    """What, reachable from ``root`` through exception chains and object attributes (not
    tracebacks: every exception's frames hold locals), looks like a signed request."""
    found: list[str] = []
    seen: set[int] = set()
    todo: list[tuple[Any, str]] = [(root, "error")]
    while todo:
        value, where = todo.pop()
        if id(value) in seen or isinstance(value, (int, float, bool, type(None), type)):
            continue
        seen.add(id(value))
        if isinstance(value, (httpx.Request, httpx.Headers, aiohttp.RequestInfo)):
            found.append(f"{where}: {type(value).__name__}")
            continue
        if isinstance(value, (str, bytes)):
            text = value.lower() if isinstance(value, str) else value.decode("latin-1").lower()
            found += [f"{where}: {text[:80]!r}" for name in _SIGNED if f"{name}:" in text]
            continue
        if isinstance(value, Mapping):
            for key, item in value.items():
                if str(key).lower() in _SIGNED:
                    found.append(f"{where}[{key!r}]")
                todo.append((item, f"{where}[{key!r}]"))
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            todo += [(item, f"{where}[{n}]") for n, item in enumerate(value)]
            continue
        if isinstance(value, BaseException):
            todo += [
                (value.__cause__, f"{where}.__cause__"),
                (value.__context__, f"{where}.__context__"),
            ]
            todo += [(value.args, f"{where}.args")]
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict):
            todo.append((attributes, f"{where}.__dict__"))
        for slot in getattr(type(value), "__slots__", ()):
            todo.append((getattr(value, slot, None), f"{where}.{slot}"))
    return found


@pytest.mark.loopback
@pytest.mark.backends
async def test_no_error_holds_a_signed_request(server: LoopbackServer, http_backend: str) -> None:
    emulator = server.emulator
    unreachable = f"http://127.0.0.1:{_closed_port()}"
    errors: list[BaseException] = []
    calls: list[tuple[Any, Any]] = [
        (
            AsyncSpeedPix(emulator.app_key, emulator.app_secret, endpoint=unreachable,
                          retry_policy=FAST_RETRY),
            lambda c: c.predictions.get("t-1"),
        ),
        (
            AsyncSpeedPix(emulator.app_key, emulator.app_secret, endpoint=unreachable,
                          retry_policy=FAST_RETRY),
            lambda c: c.run("wf-echo", {}),
        ),
        (
            AsyncPortrait(host=unreachable, app_id=emulator.portrait_app_id,
                          token=emulator.portrait_token, retry_policy=FAST_RETRY),
            lambda c: c.train(["https://photos.test/a.jpg"]),
        ),
        (
            server.client(retry_policy=FAST_RETRY),
            lambda c: c.run("wf-echo", {}, wait=False),
        ),
    ]  # fmt: skip
    # The last one: the emulator drops the connection after taking the submit.
    emulator.faults.script("reset", route="/scc/comfy_prompt", phase="after")
    for client, call in calls:
        async with client:
            try:
                await call(client)
            except SpeedPixError as exc:
                errors.append(exc)
    assert len(errors) == 4
    assert isinstance(errors[3], SubmitOutcomeUnknownError)
    for error in errors:
        assert error.__cause__ is not None, "the cause is kept, as a clean stand-in"
        assert _holds_a_signed_request(error) == [], repr(error)
