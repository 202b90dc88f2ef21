"""The emulator's command line (ready line, serving, SIGINT/SIGTERM) and the demo."""

from __future__ import annotations

import importlib.metadata
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from speedpix_async import (
    AsyncPortrait,
    AsyncSpeedPix,
    NotFoundError,
    PortraitAuthenticationError,
)
from tests.conftest import default_sigint

pytestmark = pytest.mark.loopback


def _emulator(*flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "speedpix_async.emulator", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
        preexec_fn=default_sigint,
    )


READY_VARIABLES = [
    "SPEEDPIX_ENDPOINT",
    "SPEEDPIX_APP_KEY",
    "SPEEDPIX_APP_SECRET",
    "PAI_PORTRAIT_HOST",
    "PAI_PORTRAIT_APP_ID",
    "PAI_PORTRAIT_TOKEN",
]


def _ready(proc: subprocess.Popen[str]) -> dict[str, str]:
    """The ``export NAME=value`` lines the emulator prints once it accepts connections."""
    assert proc.stdout is not None
    variables = {}
    for _ in READY_VARIABLES:
        line = proc.stdout.readline().strip()
        assert line.startswith("export "), line
        name, _, value = line.removeprefix("export ").partition("=")
        variables[name] = shlex.split(value)[0]
    return variables


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_emulator_prints_its_endpoint_serves_and_stops_on_signal(sig: signal.Signals) -> None:
    with _emulator("--time-scale", "0.1") as proc:
        try:
            variables = _ready(proc)
            assert list(variables) == READY_VARIABLES
            endpoint = variables["SPEEDPIX_ENDPOINT"]
            assert endpoint.startswith("http://127.0.0.1:"), endpoint
            assert variables["PAI_PORTRAIT_HOST"] == endpoint
            async with AsyncSpeedPix(
                "demo-app-key", "demo-app-secret", endpoint=endpoint
            ) as client:
                assert (await client.run("wf-echo", {"cli": True}))["echo"] == {"cli": True}
            async with httpx.AsyncClient() as raw:
                stats = (await raw.get(f"{endpoint}/_emulator/stats")).json()
            assert stats["tasks_created"]["total"] == 1
        finally:
            proc.send_signal(sig)
            _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr


async def test_emulator_credentials_come_from_flags_and_are_printed() -> None:
    flags = ("--app-key", "k2", "--app-secret", "s2")
    portrait = ("--portrait-app-id", "pid-2", "--portrait-token", "tok 2")
    with _emulator(*flags, *portrait) as proc:
        try:
            variables = _ready(proc)
            assert variables["SPEEDPIX_APP_KEY"] == "k2"
            assert variables["SPEEDPIX_APP_SECRET"] == "s2"
            assert variables["PAI_PORTRAIT_APP_ID"] == "pid-2"
            assert variables["PAI_PORTRAIT_TOKEN"] == "tok 2"  # quoted for the shell
            endpoint = variables["SPEEDPIX_ENDPOINT"]
            async with AsyncPortrait(endpoint, "pid-2", "tok 2") as good:
                sample = f"{endpoint}/_emulator/samples/portrait-0-0.png"
                assert (await good.check_images([sample]))[0].ok
            async with AsyncPortrait(endpoint, "pid-2", "wrong") as bad:
                with pytest.raises(PortraitAuthenticationError, match="token"):
                    await bad.check_images([sample])
            async with httpx.AsyncClient() as raw:
                url = f"{endpoint}/scc/comfy_get_progress"
                rejected = await raw.post(url, content=b"{}", headers={"x-ca-key": "demo-app-key"})
                known = await raw.post(url, content=b"{}", headers={"x-ca-key": "k2"})
            assert rejected.headers["x-ca-error-message"] == "Invalid AppKey"
            assert known.headers["x-ca-error-message"] == "Empty Signature"
        finally:
            proc.terminate()
            proc.communicate(timeout=15)


async def test_emulator_flags_for_a_shared_host_and_a_queue() -> None:
    """A second app key that cannot see the first's tasks, a pool of capacity 1 (the second
    task's estimate includes the first's run), and one log line per request, with no secret."""
    flags = ("--also-app-key", "team-b=secret-b", "--capacity", "1", "--log-level", "info")
    with _emulator("--time-scale", "0.5", *flags) as proc:
        try:
            endpoint = _ready(proc)["SPEEDPIX_ENDPOINT"]
            async with (
                AsyncSpeedPix("demo-app-key", "demo-app-secret", endpoint=endpoint) as a,
                AsyncSpeedPix("team-b", "secret-b", endpoint=endpoint) as b,
            ):
                # 2 s tasks (1 s at this time scale): the first is still running however slowly
                # this machine gets to the second submit.
                first = await a.predictions.create("wf-sleep", {"seconds": 2})
                second = await a.predictions.create("wf-sleep", {"seconds": 2})
                with pytest.raises(NotFoundError):
                    await b.predictions.get(first.id)
                assert (await b.run("wf-echo", {"b": 1}))["echo"] == {"b": 1}
        finally:
            proc.terminate()
            _, stderr = proc.communicate(timeout=15)
    one = first.prediction.estimated_duration or 0.0
    two = second.prediction.estimated_duration or 0.0
    assert two > one + 0.5, (one, two)  # unlimited, both would be ~1 s
    lines = [line for line in stderr.splitlines() if " -> " in line]
    assert any("POST /scc/comfy_prompt -> 200 in " in line for line in lines), stderr
    assert any("POST /scc/comfy_get_progress -> 200 in " in line for line in lines), stderr
    for secret in ("demo-app-secret", "secret-b", "x-ca-signature", "Signature="):
        assert secret not in stderr


@pytest.mark.parametrize(
    ("flag", "value"), [("--also-app-key", "no-separator"), ("--capacity", "pool=lots")]
)
def test_emulator_flag_mistakes_say_how_to_write_them(flag: str, value: str) -> None:
    with _emulator(flag, value) as proc:
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"{flag} " in stderr
    assert "e.g." in stderr
    assert "Traceback" not in stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "speedpix-emulator"
    assert script.exists()
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    assert "--time-scale" in done.stdout


def test_demo_runs_the_guides_sample_and_writes_result_png(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "speedpix_async", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "embedded emulator at http://127.0.0.1:" in out
    assert "upload product.jpg" in out
    assert "submit wf-white-background" in out
    assert "running" in out
    assert "succeeded" in out
    assert "result: 1024x1024 png" in out
    assert "on a 1024x1024 white canvas" in out
    result = tmp_path / "speedpix-output" / "result.png"
    assert f"result image: {result}" in out
    from PIL import Image

    with Image.open(result) as image:
        assert image.size == (1024, 1024)
        assert image.format == "PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speedpix-output"]
    assert sorted(p.name for p in result.parent.iterdir()) == ["result.png"]


@pytest.mark.parametrize("service", ["speedpix", "portrait"])
def test_demo_checks_where_it_will_save_before_running(tmp_path: Path, service: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "speedpix_async",
            "demo",
            service,
            "--output",
            str(tmp_path / "missing" / "x.png"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "the folder" in done.stderr
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    assert "embedded emulator" not in done.stdout  # nothing ran


def test_unknown_command_fails_with_usage() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "speedpix_async", "dance"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "Usage: speedpix" in done.stderr
    assert "No such command 'dance'" in done.stderr


def test_the_installed_scripts_name_a_missing_extra_instead_of_a_traceback() -> None:
    scripts = {
        point.name: point.value
        for point in importlib.metadata.entry_points(group="console_scripts")
        if point.name in ("speedpix", "speedpix-emulator")
    }
    assert scripts == {
        "speedpix": "speedpix_async.__main__:main",
        "speedpix-emulator": "speedpix_async.__main__:emulator",
    }
    # As without the cli and emulator extras: those imports fail.
    program = (
        "import sys\n"
        "for name in ('click', 'rich', 'uvicorn', 'starlette', 'PIL'):\n"
        "    sys.modules[name] = None\n"
        "from speedpix_async.__main__ import emulator, main\n"
        "sys.exit({call})\n"
    )
    for call, extra in [
        ("main(['run', 'wf-echo'])", "cli"),
        ("main(['demo'])", "emulator"),
        ("emulator([])", "emulator"),
        ("main(['emulator'])", "emulator"),
    ]:
        done = subprocess.run(
            [sys.executable, "-c", program.format(call=call)], capture_output=True, text=True
        )
        assert done.returncode in (1, 2), (call, done.stderr)
        assert f"pip install 'speedpix-async[{extra}]'" in done.stderr, (call, done.stderr)
        assert "Traceback" not in done.stderr, (call, done.stderr)
