"""``speedpix run | wait | get | upload | portrait``, ``--version``, errors and exit codes."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from speedpix_async import __version__
from speedpix_async.cli import _batch, _runtime
from speedpix_async.emulator import LoopbackServer, make_sample_photo
from tests.cli.conftest import Shell

pytestmark = pytest.mark.loopback


def test_run_uploads_file_inputs_and_saves_file_outputs(
    speedpix_env: LoopbackServer, speedpix: Shell, tmp_path: Path
) -> None:
    photo = make_sample_photo(tmp_path / "photo.jpg")
    out = tmp_path / "out"
    code = speedpix(
        "run", "wf-white-background", "-i", f"image=@{photo}", "-i", "text=white bg",
        "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, speedpix.err
    document = speedpix.json()
    assert document["status"] == "succeeded"
    assert document["output"]["info"].startswith("subject found")
    [saved] = document["files"]
    assert Path(saved).parent == out
    assert Path(saved).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.iterdir()] == [Path(saved).name], "no partial files"
    stats = speedpix_env.emulator.stats
    assert stats.uploads == 1, "the @file input was uploaded"
    assert speedpix.err == "", "--json prints nothing but the document"


def test_plain_output_without_a_terminal_shows_each_state_once(
    speedpix_env: LoopbackServer, speedpix: Shell
) -> None:
    code = speedpix("run", "wf-sleep", "-i", "seconds=3", "--polling-interval", "0.05")
    assert code == 0
    assert json.loads(speedpix.out)["output"] == {"slept": 3}
    lines = speedpix.err.splitlines()
    assert lines[0] == "wf-sleep: submitting"
    assert any(line.startswith("task ") and line.endswith(" submitted") for line in lines)
    assert lines[-1].startswith("wf-sleep: succeeded")
    assert len(lines) == len(set(lines)), "no line repeats per poll"
    statuses = [line.split()[1] for line in lines if line.startswith("wf-sleep: ")]
    assert statuses[0] == "submitting"
    assert "running" in statuses, "the task was seen running (a watched wait polls)"
    assert "\x1b[" not in speedpix.err, "no terminal escapes in a pipe"


def test_no_wait_then_wait_then_get(speedpix_env: LoopbackServer, speedpix: Shell) -> None:
    assert speedpix("run", "wf-echo", "-i", "value=[1,2]", "--no-wait") == 0
    task_id = speedpix.out.strip()
    assert task_id.isdigit()
    assert speedpix("wait", task_id, "--json") == 0
    waited = speedpix.json()
    assert waited["output"]["echo"] == {"value": [1, 2]}, "-i values are JSON when they parse"
    assert speedpix("get", task_id, "--json") == 0
    assert speedpix.json() == {
        "task_id": task_id,
        "status": "succeeded",
        "output": waited["output"],
        "api_invoke_id": speedpix.json()["api_invoke_id"],
    }


def test_upload_prints_access_urls(
    speedpix_env: LoopbackServer, speedpix: Shell, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.bin"
    first.write_text("hello")
    second.write_bytes(b"\x00" * 10)
    assert speedpix("upload", str(first), str(second)) == 0
    urls = speedpix.out.split()
    assert len(urls) == 2
    assert all(url.startswith(speedpix_env.endpoint) for url in urls)
    assert speedpix("upload", str(first), "--json") == 0
    [entry] = speedpix.json()
    assert entry["size"] == 5
    assert entry["file"] == str(first)


def test_errors_are_one_line_with_a_non_zero_exit(
    speedpix_env: LoopbackServer, speedpix: Shell, tmp_path: Path
) -> None:
    assert speedpix("run", "wf-fail", "-i", "message=boom") == 1
    assert speedpix.err.splitlines()[-1].startswith("error: task ")
    assert "boom" in speedpix.err
    assert "Traceback" not in speedpix.err

    assert speedpix("run", "wf-echo", "-i", f"image=@{tmp_path / 'missing.jpg'}") == 1
    assert "is not a file" in speedpix.err
    assert speedpix_env.emulator.stats.tasks_created == 1, "a bad input sends nothing"

    assert speedpix("--debug", "run", "wf-echo", "-i", "novalue") == 1
    assert "Traceback" in speedpix.err
    assert (
        speedpix.err.splitlines()[-1]
        == "error: -i 'novalue': write key=value (key=@file to upload a file)"
    )

    assert speedpix("run") == 2, "a usage error"
    assert "Missing argument" in speedpix.err


def test_a_timeout_names_the_resume_command(speedpix_env: LoopbackServer, speedpix: Shell) -> None:
    assert speedpix("run", "wf-sleep", "-i", "seconds=100", "--timeout", "0.3") == 1
    last = speedpix.err.splitlines()[-1]
    assert last.startswith("resume with: speedpix wait ")


def test_credentials_come_from_the_environment(
    speedpix: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "not-the-real-secret-1234"
    monkeypatch.setenv("SPEEDPIX_APP_KEY", "key")
    monkeypatch.delenv("SPEEDPIX_APP_SECRET", raising=False)
    assert speedpix("get", "123") == 1
    assert "SPEEDPIX_APP_SECRET" in speedpix.err
    monkeypatch.setenv("SPEEDPIX_APP_SECRET", secret)
    monkeypatch.setenv("SPEEDPIX_ENDPOINT", "http://127.0.0.1:9")
    assert speedpix("--debug", "get", "123") == 1
    assert secret not in speedpix.err


def test_portrait_check_train_job_create(
    speedpix_server: LoopbackServer,
    portrait_env: LoopbackServer,
    speedpix: Shell,
    tmp_path: Path,
) -> None:
    photos = [speedpix_server.sample_url(f"portrait-1-{n}.png") for n in range(4)]
    assert speedpix("portrait", "check", *photos, "--json") == 0
    assert [row["code"] for row in speedpix.json()] == [1, 1, 1, 1]

    assert speedpix("portrait", "train", *photos, "--json") == 0
    trained = speedpix.json()
    assert trained["state"] == "SUCCESS"
    assert trained["model_id"]

    assert speedpix("portrait", "job", str(trained["job_id"]), "--json") == 0
    assert speedpix.json()["state"] == "SUCCESS"

    out = tmp_path / "portrait.png"
    template = speedpix_server.sample_url("template-1.png")
    code = speedpix(
        "portrait", "create", template, "--model-id", trained["model_id"],
        "-c", "lora_weights=0.9", "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, speedpix.err
    assert speedpix.json()["file"] == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert speedpix("portrait", "create", template, "--out", str(out), "-c", "lora_weights=9") == 1
    assert "lora_weights" in speedpix.err


def test_version_and_the_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("speedpix")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "speedpix_async"]
    done = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, check=False, env={**os.environ}
    )
    assert done.returncode == 0
    # Named after the distribution, so nobody takes it for the official ``speedpix`` package.
    assert done.stdout.strip() == f"speedpix-async {__version__}"


def test_a_terminal_gets_live_progress_bars(
    speedpix_env: LoopbackServer,
    speedpix: Shell,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats stderr as a terminal
    monkeypatch.setenv("COLUMNS", "120")
    assert speedpix("run", "wf-sleep", "-i", "seconds=1") == 0
    assert "\x1b[" in speedpix.err, "a live display draws with terminal escapes"
    assert json.loads(speedpix.out)["output"] == {"slept": 1}, "stdout keeps the plain result"

    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"seconds": 0.5}\n{"seconds": 1}\n')
    out = tmp_path / "out.jsonl"
    assert speedpix("batch", "wf-sleep", str(inputs), "--out", str(out)) == 0
    assert "2 done, 0 failed" in speedpix.err
    assert len(out.read_text().splitlines()) == 2

    assert speedpix("run", "wf-sleep", "-i", "seconds=1", "--json") == 0
    assert speedpix.err == "", "--json turns the display off even on a terminal"


@pytest.mark.parametrize(("concurrency", "raised"), [(4, True), (2, False)])
def test_a_wide_batch_raises_the_collectors_thresholds_while_it_runs(
    speedpix_env: LoopbackServer,
    speedpix: Shell,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    concurrency: int,
    raised: bool,
) -> None:
    """From WIDE_BATCH in flight (lowered here to 3) the command raises the thresholds for the
    run, and puts the process's own back afterwards."""
    monkeypatch.setattr(_runtime, "WIDE_BATCH", 3)
    seen: list[tuple[int, ...]] = []

    async def probe_threshold() -> None:
        seen.append(gc.get_threshold())

    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(6)))
    before = gc.get_threshold()
    original_run = _runtime.run_async

    def run_and_probe(main: Any) -> int:
        anyio.run(probe_threshold)
        return original_run(main)

    monkeypatch.setattr(_batch, "run_async", run_and_probe)
    args = ("--out", str(tmp_path / "r.jsonl"), "--concurrency", str(concurrency), "--json")
    assert speedpix("batch", "wf-echo", str(inputs), *args) == 0, speedpix.err
    assert speedpix.json()["succeeded"] == 6
    assert seen == [_runtime.WIDE_GC_THRESHOLD if raised else before]
    assert gc.get_threshold() == before
