"""``speedpix batch`` killed with SIGKILL and run again: nothing submitted twice, nothing lost.

The batch runs as a real process against a loopback emulator. To kill it at a chosen point the
test stops it (SIGSTOP), reads its journal and files while it cannot move, and either kills it
(SIGKILL) or lets it go on (SIGCONT) — so "during submits" means a moment when tasks are being
submitted, read from the very file the next run will trust.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from speedpix_async.emulator import Emulator, LoopbackServer

pytestmark = [
    pytest.mark.loopback,
    pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="POSIX signals"),
]

INPUTS = 24
CONCURRENCY = 4


@pytest.fixture
def speedpix_emulator() -> Emulator:
    # Tasks of about a quarter second: a batch of 24 at 4 at a time lasts a couple of seconds.
    return Emulator(time_scale=0.05, slow_seconds=1.5)


@attrs.frozen
class Seen:
    """What the stopped batch has durably done, read from its journal and folders."""

    submits: int
    tasks: int
    ends: int
    partial_files: int
    result_lines: int

    @property
    def submit_in_flight(self) -> bool:
        return self.submits > self.tasks


class Batch:
    def __init__(self, tmp: Path, server: LoopbackServer) -> None:
        self.inputs = tmp / "inputs.jsonl"
        self.out = tmp / "results.jsonl"
        self.journal = tmp / "results.jsonl.journal"
        self.files = tmp / "files"
        self.stderr = tmp / "stderr.txt"
        self.env = {
            **os.environ,
            "SPEEDPIX_ENDPOINT": server.endpoint,
            "SPEEDPIX_APP_KEY": server.emulator.app_key,
            "SPEEDPIX_APP_SECRET": server.emulator.app_secret,
        }
        self.inputs.write_text(
            "".join(
                json.dumps({"prompt": f"fox number {n}", "width": 96, "height": 64, "steps": 4})
                + "\n"
                for n in range(INPUTS)
            )
        )

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-m", "speedpix_async", "batch", "wf-text-to-image", str(self.inputs),
            "--out", str(self.out), "--files-dir", str(self.files),
            "--concurrency", str(CONCURRENCY), *extra,
        ]  # fmt: skip
        with self.stderr.open("wb") as stderr:
            return subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL, stderr=stderr)

    def run(self, *extra: str) -> tuple[int, str]:
        proc = self.start(*extra)
        proc.wait(timeout=60)
        return proc.returncode, self.stderr.read_text()

    def seen(self) -> Seen:
        records = []
        if self.journal.exists():
            for line in self.journal.read_bytes().splitlines(keepends=True):
                if line.endswith(b"\n"):
                    records.append(json.loads(line))
        lines = self.out.read_text().splitlines() if self.out.exists() else []
        return Seen(
            submits=sum("submit" in r for r in records),
            tasks=sum("task" in r for r in records),
            ends=sum("end" in r for r in records),
            partial_files=len(list(self.files.glob(".*.part"))) if self.files.exists() else 0,
            result_lines=len(lines),
        )

    def kill_when(self, ready: Callable[[Seen], bool], *extra: str) -> Seen:
        proc = self.start(*extra)
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                os.kill(proc.pid, signal.SIGSTOP)
                _until_stopped(proc.pid)
                seen = self.seen()
                if ready(seen):
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return seen
                os.kill(proc.pid, signal.SIGCONT)
                time.sleep(0.003)
            pytest.fail(f"the batch ended before the kill point ({self.seen()})")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def results(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines()]


def _until_stopped(pid: int) -> None:
    """Wait until every thread of ``pid`` is stopped (SIGSTOP is delivered asynchronously)."""
    for _ in range(2000):
        states = []
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            try:
                states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
            except (OSError, IndexError):
                continue
        if states and all(state in "tTZX" for state in states):
            return
        time.sleep(0.0005)
    raise AssertionError(f"process {pid} did not stop")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_killed_during_submits_waits_and_downloads_every_input_runs_exactly_once(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    emulator = speedpix_server.emulator
    batch = Batch(tmp_path, speedpix_server)

    # 1. During submits: more to submit, none on the wire at this instant.
    at = batch.kill_when(lambda s: CONCURRENCY < s.tasks < INPUTS // 2 and not s.submit_in_flight)
    assert at.ends < INPUTS // 2
    # 2. During waits, on the re-run: half the results done, tasks running.
    at = batch.kill_when(
        lambda s: s.ends >= INPUTS // 2 and s.tasks > s.ends and not s.submit_in_flight
    )
    assert at.ends < INPUTS
    # 3. During downloads: a file half downloaded (the store answers slowly for a while).
    emulator.faults.script("slow", route="/_store:GET", times=3)
    at = batch.kill_when(lambda s: s.partial_files > 0 and not s.submit_in_flight)
    assert at.partial_files > 0

    code, err = batch.run()
    assert code == 0, err
    results = batch.results()
    assert sorted(r["index"] for r in results) == list(range(INPUTS)), "each result once"
    assert all(r["status"] == "succeeded" for r in results)
    assert len({r["task_id"] for r in results}) == INPUTS
    stats = emulator.stats.snapshot()
    assert stats["tasks_created"]["total"] == INPUTS, "no input was submitted twice"
    assert stats["distinct_submissions"] == INPUTS, "every input was submitted"
    saved = sorted(p.name for p in batch.files.iterdir())
    assert len(saved) == INPUTS, saved
    assert not [name for name in saved if name.endswith(".part")], "no partial file left"
    assert {name.split("-", 1)[0] for name in saved} == {str(n) for n in range(INPUTS)}
    for result in results:
        [path] = result["files"]
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_a_submit_on_the_wire_when_killed_is_reported_not_repeated(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    emulator = speedpix_server.emulator
    batch = Batch(tmp_path, speedpix_server)
    # The server creates the task but answers late: the client dies not knowing its id.
    emulator.faults.script("slow", route="/scc/comfy_prompt", phase="after")
    at = batch.kill_when(lambda s: s.submit_in_flight and s.ends >= 1)
    unknown = at.submits - at.tasks
    created = emulator.stats.tasks_created

    code, err = batch.run()
    assert code == 1, "an unknown outcome is a failure to look at"
    results = batch.results()
    assert sorted(r["index"] for r in results) == list(range(INPUTS))
    failed = [r for r in results if r["status"] != "succeeded"]
    assert len(failed) == unknown
    assert all(r["error"]["type"] == "SubmitOutcomeUnknownError" for r in failed)
    assert all("--resubmit-unknown" in r["error"]["message"] for r in failed)
    assert emulator.stats.tasks_created == created + (INPUTS - at.submits), (
        "the re-run submitted only the inputs never sent"
    )
    assert "failed" in err

    code, err = batch.run("--resubmit-unknown")
    assert code == 0, err
    assert all(r["status"] == "succeeded" for r in batch.results())
    assert emulator.stats.tasks_created == created + (INPUTS - at.submits) + unknown
