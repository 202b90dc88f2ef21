"""Peak client memory while uploading and downloading a large file.

Generates a file of ``--size-mb`` MiB, uploads it with ``client.files.create`` to an emulator
running in a *separate process* on loopback (so only the client's memory is measured), downloads
it again with ``FileOutput.save``, verifies the bytes, and prints for each direction the peak
increase of the client's resident memory over its level just before, plus throughput.

    python benchmarks/upload_memory.py [--size-mb 512]

Target: under 64 MB of extra RSS in each direction for a 512 MB file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

import anyio
from _common import emulator_process

from speedpix_async import AsyncSpeedPix

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakSampler:
    """Samples this process's RSS every few milliseconds in a thread."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def generate(path: Path, size: int) -> str:
    block = os.urandom(MIB)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        written = 0
        while written < size:
            piece = block[: min(MIB, size - written)]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


async def measure(endpoint: str, source: Path, target: Path) -> tuple[float, float, float, float]:
    async with AsyncSpeedPix(
        "demo-app-key", "demo-app-secret", endpoint=endpoint, timeout=120
    ) as client:
        # Warm up the pool and the code paths so their one-off cost is not counted.
        await client.files.from_url((await client.files.create(b"warm-up")).access_url).read()
        before = rss_bytes()
        started = time.perf_counter()
        with PeakSampler() as up:
            uploaded = await client.files.create(source)
        up_seconds = time.perf_counter() - started
        up_peak = (up.peak - before) / MIB
        before = rss_bytes()
        started = time.perf_counter()
        with PeakSampler() as down:
            await client.files.from_url(uploaded.access_url).save(target)
        down_seconds = time.perf_counter() - started
        down_peak = (down.peak - before) / MIB
    return up_peak, up_seconds, down_peak, down_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=512, help="file size in MiB (default 512)")
    args = parser.parse_args()
    size = args.size_mb * MIB
    with tempfile.TemporaryDirectory(prefix="speedpix-bench-") as workdir:
        source, target = Path(workdir) / "big.bin", Path(workdir) / "copy.bin"
        expected = generate(source, size)
        with emulator_process() as endpoint:
            up_peak, up_s, down_peak, down_s = anyio.run(measure, endpoint, source, target)
        assert target.stat().st_size == size, "downloaded size differs"
        assert sha256_of(target) == expected, "downloaded bytes differ"
    print(f"file: {args.size_mb} MiB, emulator in a separate process on loopback; bytes verified")
    for label, peak, seconds in (
        ("upload   (files.create):   ", up_peak, up_s),
        ("download (FileOutput.save):", down_peak, down_s),
    ):
        print(f"{label} peak RSS +{peak:6.1f} MiB   {args.size_mb / seconds:7.1f} MiB/s")
    print("target: < 64 MiB in each direction")


if __name__ == "__main__":
    main()
