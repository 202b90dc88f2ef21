"""The command never destroys a file the user wrote (issue "Nothing the user wrote is ever
overwritten", group 1). Each test runs the real ``speedpix`` command in a subprocess against a
loopback emulator and compares the user's files byte for byte afterwards."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from speedpix_async.emulator import Emulator, LoopbackServer, TaskContext
from tests.conftest import default_sigint

pytestmark = pytest.mark.loopback

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)


@pytest.fixture
def speedpix_emulator() -> Emulator:
    return Emulator(time_scale=0.05)


def _env(server: LoopbackServer) -> dict[str, str]:
    return {
        **os.environ,
        "SPEEDPIX_ENDPOINT": server.endpoint,
        "SPEEDPIX_APP_KEY": server.emulator.app_key,
        "SPEEDPIX_APP_SECRET": server.emulator.app_secret,
    }


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "speedpix_async", *args]


def speedpix(
    server: LoopbackServer, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(*args), env=_env(server), cwd=cwd, capture_output=True, text=True, timeout=90
    )


def _inputs(path: Path, count: int, **extra: Any) -> Path:
    path.write_text("".join(json.dumps({"value": n, **extra}) + "\n" for n in range(count)))
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_refused_batch_leaves_the_results_file_as_it_was(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    inputs = _inputs(tmp_path / "in.jsonl", 3)
    out = tmp_path / "results.jsonl"
    done = speedpix(speedpix_server, "batch", "wf-echo", str(inputs), "--out", str(out))
    assert done.returncode == 0, done.stderr
    before = out.read_bytes()
    assert len(_lines(out)) == 3

    # The same journal, another workflow; then another shard: both refused.
    for args in (("wf-sleep",), ("wf-echo", "--shard", "1/2")):
        refused = speedpix(
            speedpix_server, "batch", args[0], str(inputs), "--out", str(out), *args[1:]
        )
        assert refused.returncode == 1
        assert "belongs to another batch" in refused.stderr
        assert out.read_bytes() == before, "the refused run changed nothing"
    assert not list(tmp_path.glob(".*.part")), "no temporary file left"


def test_a_second_batch_on_the_same_out_is_refused_and_the_first_completes(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    # A cron overlap: the second run starts while the first is still waiting on its tasks.
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"seconds": 60}) + "\n" for _ in range(20)))
    out = tmp_path / "r.jsonl"
    args = ("batch", "wf-sleep", str(inputs), "--out", str(out), "--concurrency", "20")
    first = subprocess.Popen(
        _command(*args),
        env=_env(speedpix_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    journal = tmp_path / "r.jsonl.journal"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        journal.exists() and journal.read_text().count('"task"') == 20
    ):
        time.sleep(0.05)
    second = speedpix(speedpix_server, *args)
    assert second.returncode == 1
    assert "in use by another process" in second.stderr
    assert not out.exists(), "the refused run created nothing at --out"

    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "20 succeeded" in err
    results = _lines(out)
    assert sorted(r["index"] for r in results) == list(range(20))
    assert b"\0" not in out.read_bytes()


def test_a_journal_path_naming_someone_elses_file_loses_nothing(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    inputs = _inputs(tmp_path / "in.jsonl", 2)
    notes = tmp_path / "notes.jsonl"
    content = b'{"note": "first"}\n{"note": "the last line, without a newline"}'
    notes.write_bytes(content)
    refused = speedpix(
        speedpix_server,
        "batch",
        "wf-echo",
        str(inputs),
        "--out",
        str(tmp_path / "r.jsonl"),
        "--journal",
        str(notes),
    )
    assert refused.returncode == 1
    assert "not a journal" in refused.stderr
    assert notes.read_bytes() == content
    assert speedpix_server.emulator.stats.tasks_created == 0


def test_out_equal_to_the_inputs_file_is_refused(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    inputs = _inputs(tmp_path / "in.jsonl", 2)
    before = inputs.read_bytes()
    for out in (str(inputs), str(tmp_path / "." / "in.jsonl")):
        refused = speedpix(speedpix_server, "batch", "wf-echo", str(inputs), "--out", out)
        assert refused.returncode == 1
        assert "is the inputs file" in refused.stderr
    assert inputs.read_bytes() == before
    assert speedpix_server.emulator.stats.tasks_created == 0


def test_an_existing_results_file_the_batch_did_not_write_is_kept(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    inputs = _inputs(tmp_path / "in.jsonl", 2)
    out = tmp_path / "results.jsonl"
    out.write_text("my own notes\n")
    done = speedpix(speedpix_server, "batch", "wf-echo", str(inputs), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "my own notes\n"
    numbered = tmp_path / "results-1.jsonl"
    assert len(_lines(numbered)) == 2
    assert "results-1.jsonl" in done.stderr

    # A re-run recognises the numbered file as its own and rewrites it, not a third one.
    again = speedpix(speedpix_server, "batch", "wf-echo", str(inputs), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert len(_lines(numbered)) == 2
    assert not (tmp_path / "results-2.jsonl").exists()
    assert out.read_text() == "my own notes\n"
    assert speedpix_server.emulator.stats.tasks_created == 2, "replayed from the journal"


def _hostile_names(inputs: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    files = {}
    for key, name in (("rc", ".bashrc"), ("nul", "a\0b.png"), ("up", "../escape.png")):
        url = ctx.save_output(PNG, filename="x.png", content_type="image/png")
        files[key] = {"url": url, "filename": name, "width": 1, "height": 1}
    return files


def test_run_out_never_replaces_a_file_and_makes_server_names_safe(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    speedpix_server.emulator.register_workflow("wf-names", _hostile_names, duration=0.1)
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / ".bashrc").write_text("export KEEP=me\n")
    (folder / "bashrc").write_text("mine too\n")
    done = speedpix(speedpix_server, "run", "wf-names", "--out", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    assert (folder / ".bashrc").read_text() == "export KEEP=me\n"
    assert (folder / "bashrc").read_text() == "mine too\n"
    files = sorted(Path(p).name for p in json.loads(done.stdout)["files"])
    assert files == ["ab.png", "bashrc-1", "escape.png"]
    assert all((folder / name).read_bytes() == PNG for name in files)
    assert not (tmp_path / "escape.png").exists()


@pytest.fixture
def unanswered_connects() -> Iterator[str]:
    """An endpoint whose connections never complete: a listening socket whose accept queue is
    full, so Linux drops every further SYN and each connect hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    try:
        yield endpoint
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs")
@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
def test_a_batch_killed_while_connecting_submits_everything_on_the_rerun(
    speedpix_server: LoopbackServer, tmp_path: Path, unanswered_connects: str, backend: str
) -> None:
    inputs = _inputs(tmp_path / "in.jsonl", 12)
    out = tmp_path / "r.jsonl"
    journal = tmp_path / "r.jsonl.journal"
    args = ("batch", "wf-echo", str(inputs), "--out", str(out), "--timeout", "60")
    env = {**_env(speedpix_server), "SPEEDPIX_ENDPOINT": unanswered_connects}
    env["SPEEDPIX_HTTP_BACKEND"] = backend
    proc = subprocess.Popen(
        _command(*args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(2.5)  # started up; every submit is stuck connecting
    proc.kill()
    proc.wait()
    recorded = journal.read_text() if journal.exists() else ""
    assert '"submit"' not in recorded, "nothing went out, so no submit may count as unknown"

    done = speedpix(speedpix_server, *args)
    assert done.returncode == 0, done.stderr
    results = _lines(out)
    assert sorted(r["index"] for r in results) == list(range(12))
    assert all(r["status"] == "succeeded" for r in results)
    assert speedpix_server.emulator.stats.tasks_created == 12


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="POSIX signals")
def test_an_interrupted_batch_says_what_runs_on_and_its_rerun_what_it_resumes(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"seconds": 60, "n": n}) + "\n" for n in range(8)))
    out = tmp_path / "r.jsonl"
    journal = tmp_path / "r.jsonl.journal"
    args = ("batch", "wf-sleep", str(inputs), "--out", str(out), "--concurrency", "4")
    proc = subprocess.Popen(
        _command(*args),
        env=_env(speedpix_server),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + 90  # generous: a loaded machine starts the process slowly
    while not (journal.exists() and journal.read_text().count('"task"') == 4):
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"four submits never reached the journal: {proc.communicate()}")
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "stopped: 4 task(s) keep running on the server" in err, err
    assert f"run again: speedpix batch wf-sleep {inputs}" in err, err

    again = speedpix(speedpix_server, *args)
    assert again.returncode == 0, again.stderr
    assert "resuming from the journal" in again.stderr
    assert "0 finished (not run again), 4 waited on by id" in again.stderr, again.stderr
    assert "4 to submit" in again.stderr
    assert speedpix_server.emulator.stats.tasks_created == 8, "the four were not submitted again"
    assert sorted(json.loads(line)["index"] for line in out.read_text().splitlines()) == list(
        range(8)
    )
