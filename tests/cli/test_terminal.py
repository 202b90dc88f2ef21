"""What a person sees on a terminal: the real ``speedpix`` command on a pseudo-terminal (the
``pty`` module), against a loopback emulator. The display must move while the work runs, and
Ctrl-C must say what keeps running and how to resume it."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from speedpix_async.emulator import Emulator, LoopbackServer
from tests.conftest import default_sigint

pytestmark = [
    pytest.mark.loopback,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


@pytest.fixture
def speedpix_emulator() -> Emulator:
    # Tasks and training at a third of their nominal durations: a few seconds each.
    return Emulator(time_scale=0.05)


def _env(server: LoopbackServer) -> dict[str, str]:
    emulator = server.emulator
    return {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "30",
        "SPEEDPIX_ENDPOINT": server.endpoint,
        "SPEEDPIX_APP_KEY": emulator.app_key,
        "SPEEDPIX_APP_SECRET": emulator.app_secret,
        "PAI_PORTRAIT_HOST": server.endpoint,
        "PAI_PORTRAIT_APP_ID": emulator.portrait_app_id,
        "PAI_PORTRAIT_TOKEN": emulator.portrait_token,
    }


class Terminal:
    """A command running on a pseudo-terminal, and every screen update it wrote, timed."""

    def __init__(self, server: LoopbackServer, *args: str) -> None:
        master, slave = os.openpty()
        self.master = master
        self.process = subprocess.Popen(
            [sys.executable, "-m", "speedpix_async", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=_env(server),
            close_fds=True,
            preexec_fn=default_sigint,
        )
        os.close(slave)
        self.frames: list[tuple[float, str]] = []
        self.started = time.monotonic()

    def read(self, until: Callable[[str], bool] | None = None, timeout: float = 60.0) -> str:
        """Read what the command writes until it exits (or ``until(text so far)``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the command exited and closed its end
                    break
                if not chunk:
                    break
                self.frames.append(
                    (time.monotonic(), ANSI.sub("\n", chunk.decode(errors="replace")))
                )
                if until is not None and until(self.text):
                    return self.text
            elif self.process.poll() is not None:
                break
        return self.text

    @property
    def text(self) -> str:
        return "".join(frame for _, frame in self.frames)

    def close(self) -> int:
        self.process.wait(timeout=30)
        os.close(self.master)
        return self.process.returncode


def _values(text: str, pattern: str) -> list[str]:
    found: list[str] = []
    for value in re.findall(pattern, text):
        if not found or found[-1] != value:
            found.append(value)
    return found


def test_run_shows_a_bar_and_an_eta_that_move_while_the_task_runs(
    speedpix_server: LoopbackServer,
) -> None:
    # 160 nominal seconds at the time scale: 8 s here, polled every second as by default.
    terminal = Terminal(speedpix_server, "run", "wf-sleep", "-i", "seconds=160")
    text = terminal.read()
    assert terminal.close() == 0, text
    submitted = text.index("submitted")
    before, after = text[:submitted], text[submitted:]
    assert "submitting" in before
    assert "submitting" not in after, "the status leaves 'submitting' once the task is accepted"
    percents = [int(p) for p in _values(after, r"(\d+)%\s+(?:running|queued)")]
    assert len(set(percents)) >= 4, percents
    assert percents == sorted(percents), "the bar follows the server's percent"
    etas = _values(after, r"eta\s+(\d+)s")
    assert len(etas) >= 5, f"the ETA counts down between reports: {etas}"
    assert "succeeded" in after


def test_portrait_train_shows_the_training_percent_and_an_eta(
    speedpix_server: LoopbackServer,
) -> None:
    urls = [speedpix_server.sample_url(f"portrait-0-{n}.png") for n in range(3)]
    terminal = Terminal(speedpix_server, "portrait", "train", *urls, "--polling-interval", "0.2")
    text = terminal.read()
    assert terminal.close() == 0, text
    percents = [int(p) for p in _values(text, r"(\d+)%\s+training")]
    assert len(set(percents)) >= 4, percents
    assert percents == sorted(percents)
    assert _values(text, r"training\s+eta\s+(\d+)s"), "an ETA from the pace of training"


def test_ctrl_c_names_the_task_that_keeps_running_and_how_to_resume_it(
    speedpix_server: LoopbackServer,
) -> None:
    terminal = Terminal(speedpix_server, "run", "wf-sleep", "-i", "seconds=2000")
    text = terminal.read(until=lambda seen: "running" in seen.split("submitted", 1)[-1])
    [task_id] = re.findall(r"task (\d+) submitted", text)
    terminal.process.send_signal(signal.SIGINT)
    text = terminal.read()
    assert terminal.close() == 130
    assert (
        f"task {task_id} keeps running on the server; resume with: speedpix wait {task_id}" in text
    )
    assert "Traceback" not in text


def test_ctrl_c_during_a_blocking_run_names_the_task_in_the_traceback(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    script = tmp_path / "blocking.py"
    script.write_text(
        "from speedpix_async import SpeedPix\n"
        "with SpeedPix() as client:\n"
        "    client.run('wf-sleep', {'seconds': 2000},\n"
        "               on_progress=lambda p: print(p, flush=True))\n"
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=_env(speedpix_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # the submit's report: the task exists
    assert "waiting" in first, first
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "KeyboardInterrupt" in err
    [task_id] = list(speedpix_server.emulator.tasks.ids())
    assert f"task {task_id!r} keeps running on the server" in err
    assert f"resume with client.predictions.wait({task_id!r})" in err
