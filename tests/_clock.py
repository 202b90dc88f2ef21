"""A virtual clock for the core's ``Clock`` seam: sleeping advances time at once, so waits,
deadlines and backoffs of minutes are tested in milliseconds."""

from __future__ import annotations

import heapq

import anyio
import anyio.lowlevel

from speedpix_async._core.retry import Clock


class VirtualTime:
    """Time that moves only when something sleeps (or :meth:`advance` is called)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        """Every sleep, in order."""

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> Clock:
        """The core's clock on this time, without jitter."""
        return Clock(wall=self.wall, monotonic=self.monotonic, sleep=self.sleep, random=lambda: 0.0)


class SharedTime(VirtualTime):
    """Virtual time for many concurrent sleepers: a sleep waits until :meth:`run` (a task
    alongside them) has moved time to its wake-up, which it does, earliest first, whenever
    every other task is blocked. Run the sleepers in a task group nested in the one running
    :meth:`run`, and cancel that one when they are done."""

    def __init__(self, start: float = 1_000.0) -> None:
        super().__init__(start)
        self._wakeups: list[tuple[float, int, anyio.Event]] = []
        self._count = 0

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        wake = anyio.Event()
        self._count += 1
        heapq.heappush(self._wakeups, (self.now + max(0.0, seconds), self._count, wake))
        await wake.wait()

    async def run(self) -> None:
        while True:
            await anyio.wait_all_tasks_blocked()
            if not self._wakeups:
                await anyio.lowlevel.checkpoint()
                continue
            at, _, wake = heapq.heappop(self._wakeups)
            self.now = max(self.now, at)
            wake.set()
