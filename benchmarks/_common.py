"""Helpers shared by the benchmarks: an emulator in its own process, its stats, limits."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "EmulatorProcess",
    "cpu_seconds",
    "emulator_process",
    "percentile",
    "raise_fd_limit",
    "reset_stats",
    "stats",
]


def percentile(values: list[float], share: float) -> float:
    """The value ``share`` (0–1) of the way up ``values`` once sorted (the nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def raise_fd_limit() -> int:
    """Lift the soft open-file limit to the hard one (a wide fan-out holds many sockets);
    child processes inherit it. Returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class EmulatorProcess(str):
    """The endpoint of an emulator running in another process (a ``str``), plus its pid."""

    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU the emulator process has used so far (Linux /proc)."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def emulator_process(*flags: str) -> Iterator[EmulatorProcess]:
    """``python -m speedpix_async.emulator --port 0 FLAGS`` in a separate process (so the client
    process measures only itself); yields its endpoint."""
    with subprocess.Popen(
        [sys.executable, "-m", "speedpix_async.emulator", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip().removeprefix("export ")
        if not line.startswith("SPEEDPIX_ENDPOINT="):
            proc.kill()
            raise RuntimeError(f"emulator did not start: {line!r}")
        endpoint = EmulatorProcess(line.split("=", 1)[1])
        endpoint.pid = proc.pid
        try:
            yield endpoint
        finally:
            proc.terminate()
            proc.communicate(timeout=30)


def stats(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_emulator/stats", timeout=10) as response:
        data: dict[str, Any] = json.load(response)
        return data


def reset_stats(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/_emulator/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
