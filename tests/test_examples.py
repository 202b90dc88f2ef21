"""Every script in examples/ runs against the emulator and exits cleanly; the AI Portrait ones
run both ways, async and blocking (``--blocking``)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest

from speedpix_async.emulator import Emulator

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
PORTRAIT = [p for p in EXAMPLES if p.name.startswith("portrait_")]
SPEEDPIX = [p for p in EXAMPLES if p not in PORTRAIT]
RUNS = [(script, mode) for script in PORTRAIT for mode in ("async", "blocking")]

pytestmark = pytest.mark.loopback


@attrs.frozen
class Run:
    returncode: int
    stdout: str
    stderr: str
    stats: dict[str, Any]
    files: list[str]


def _run(script: Path, args: list[str], workdir: Path, time_scale: float) -> Run:
    emulator = Emulator(time_scale=time_scale)
    with emulator, emulator.serve() as server:
        env = {
            **os.environ,
            "SPEEDPIX_APP_KEY": emulator.app_key,
            "SPEEDPIX_APP_SECRET": emulator.app_secret,
            "SPEEDPIX_ENDPOINT": server.endpoint,
            "PAI_PORTRAIT_HOST": server.endpoint,
            "PAI_PORTRAIT_APP_ID": emulator.portrait_app_id,
            "PAI_PORTRAIT_TOKEN": emulator.portrait_token,
        }
        done = subprocess.run(
            [sys.executable, str(script), *args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        return Run(
            done.returncode,
            done.stdout,
            done.stderr,
            emulator.stats.snapshot(),
            sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*") if p.is_file()),
        )


@pytest.fixture(scope="module")
def portrait_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Run]:
    """Every AI Portrait example in both modes, run side by side (each with its own emulator,
    training at 1/50 of its nominal minute)."""

    def one(run: tuple[Path, str]) -> Run:
        script, mode = run
        workdir = tmp_path_factory.mktemp(f"{script.stem}-{mode}")
        return _run(script, ["--blocking"] if mode == "blocking" else [], workdir, 0.02)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, RUNS))
    pairs = zip(RUNS, results, strict=True)
    return {(script.name, mode): result for (script, mode), result in pairs}


@pytest.mark.parametrize("script", SPEEDPIX, ids=[p.name for p in SPEEDPIX])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    done = _run(script, [], tmp_path, 0.5)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "an example should show what it did"
    assert done.stats["tasks_created"]["total"] >= 1
    assert done.stats["auth_rejections"]["total"] == 0
    assert all(name.startswith("speedpix-output/") for name in done.files), done.files


@pytest.mark.parametrize(
    ("script", "mode"), RUNS, ids=[f"{script.name}-{mode}" for script, mode in RUNS]
)
def test_portrait_example_runs(
    script: Path, mode: str, portrait_runs: dict[tuple[str, str], Run]
) -> None:
    done = portrait_runs[(script.name, mode)]
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "an example should show what it did"
    routes = done.stats["requests"]["by_route"]
    assert any(route.startswith("/api/v1/") for route in routes), routes
    assert done.stats["auth_rejections"]["total"] == 0
    assert all(name.startswith("speedpix-output/") for name in done.files), done.files
    images = [name for name in done.files if name.endswith((".png", ".jpg"))]
    if "create" in script.read_text() and "portrait.create" in script.read_text():
        assert images, "a creating example saves its portrait"
        assert done.stats["portrait"]["portraits_created"] >= 1


def test_there_are_examples() -> None:
    assert len(SPEEDPIX) >= 2
    assert len(PORTRAIT) >= 10
