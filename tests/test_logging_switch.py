"""``SPEEDPIX_LOG=debug|info`` turns the SDK's logs on from the environment, signed URLs hidden."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
import anyio
from speedpix_async.emulator import Emulator

async def main():
    emulator = Emulator()
    with emulator.serve() as server:
        async with server.client() as client:
            uploaded = await client.files.create(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(64))
            await client.run("wf-echo", {"a": uploaded})

anyio.run(main)
"""


def run_with(value: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SPEEDPIX_LOG"}
    if value is not None:
        env["SPEEDPIX_LOG"] = value
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, env=env
    )


def test_info_shows_each_request_without_signatures() -> None:
    done = run_with("info")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    # One line per request, by the SDK itself (whichever backend the subprocess's default is).
    assert any(
        "speedpix_async INFO" in line
        and "POST http" in line
        and "/scc/comfy_prompt -> 200 in" in line
        for line in lines
    )
    assert any("speedpix_async INFO" in line and "PUT http" in line for line in lines), (
        "the upload is logged…"
    )
    assert "Signature=" not in done.stderr, "…without its signature"
    assert " DEBUG]" not in done.stderr


def test_debug_adds_the_sdks_own_decisions() -> None:
    done = run_with("DEBUG")
    assert done.returncode == 0, done.stderr
    assert "speedpix_async DEBUG] next look in " in done.stderr
    assert "Signature=" not in done.stderr


def test_unset_means_silent() -> None:
    done = run_with(None)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_an_unknown_level_warns_and_names_the_valid_ones() -> None:
    done = run_with("verbose")
    assert done.returncode == 0, done.stderr
    assert "use 'debug' or 'info'" in done.stderr


@pytest.mark.parametrize(("value", "expected"), [("info", 20), ("debug", 10), ("", None)])
def test_configure_from_env_returns_the_level(value: str, expected: int | None) -> None:
    import logging

    from speedpix_async._logging import configure_from_env

    loggers = [logging.getLogger(name) for name in ("speedpix_async", "httpx")]
    saved = [(lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    try:
        assert configure_from_env({"SPEEDPIX_LOG": value}) == expected
    finally:
        for lg, (level, handlers, propagate) in zip(loggers, saved, strict=True):
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate = propagate
