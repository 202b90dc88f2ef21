"""No secret in any repr, log line or exception message."""

from __future__ import annotations

import pytest

from speedpix_async import SpeedPixError
from speedpix_async._config import resolve_config
from speedpix_async._signing import GatewaySigner
from speedpix_async.emulator import Emulator
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
