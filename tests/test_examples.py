"""Every script in examples/ runs against the emulator and exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from speedpix_async.emulator import Emulator

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))

pytestmark = pytest.mark.loopback


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    emulator = Emulator(time_scale=0.5)
    with emulator.serve() as server:
        env = {
            **os.environ,
            "SPEEDPIX_APP_KEY": emulator.app_key,
            "SPEEDPIX_APP_SECRET": emulator.app_secret,
            "SPEEDPIX_ENDPOINT": server.endpoint,
        }
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "an example should show what it did"
    assert emulator.stats.tasks_created >= 1
    assert emulator.stats.snapshot()["auth_rejections"]["total"] == 0


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 2
