"""How long each thread waits between being woken and running, from a scheduler trace.

The blocking hop (``sync_overhead.py``) is two thread wake-ups per call; what they cost depends
on where the kernel runs the two threads. This reads ``perf script`` output of a ``perf sched
record`` and prints, per thread woken at least ``--min`` times: how many wake-ups, the time
from wake-up to running (min / p10 / median / p90), and how often it ran on the CPU of the
thread that woke it. On a virtual machine, waking a thread onto an idle virtual CPU costs
tens of microseconds; running on the waker's CPU costs about one.

    perf sched record -o sched.data -- \\
        python benchmarks/sync_overhead.py --emulator --backend httpx --rounds 2
    perf script -i sched.data -F pid,tid,cpu,time,event,trace | python benchmarks/wake_latency.py

Threads are labelled by process: the main thread of a process (its tid is its pid) and its
other threads (the blocking client's loop thread is the only other thread of the benchmark).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from _common import percentile

#: ``  PID/TID [CPU] SECONDS: sched:EVENT: FIELDS``
LINE = re.compile(r"\s*(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:(\w+):(.*)")
WAKEE = re.compile(r"\bpid=(\d+)")
NEXT = re.compile(r"\bnext_pid=(\d+)")


@dataclass
class Woken:
    """The wake-ups of one thread."""

    latencies_us: list[float] = field(default_factory=list)
    on_wakers_cpu: int = 0


def wake_ups(lines: Iterable[str]) -> tuple[dict[int, Woken], dict[int, int]]:
    """Per woken thread id, its wake-ups (a ``sched_waking`` to the ``sched_switch`` that runs
    it); and per thread id, its process id — from ``perf script -F pid,tid,cpu,time,event,trace``
    lines."""
    pending: dict[int, tuple[float, int]] = {}  # tid -> (woken at, waker's CPU)
    process: dict[int, int] = {}  # tid -> pid, from the lines each thread ran
    woken: dict[int, Woken] = {}
    for line in lines:
        match = LINE.match(line)
        if match is None:
            continue
        pid, tid, cpu, at = int(match[1]), int(match[2]), int(match[3]), float(match[4])
        event, fields = match[5], match[6]
        process[tid] = pid
        if event == "sched_waking":
            wakee = WAKEE.search(fields)
            if wakee is not None:
                pending[int(wakee[1])] = (at, cpu)
        elif event == "sched_switch":
            following = NEXT.search(fields)
            if following is None or int(following[1]) not in pending:
                continue
            next_tid = int(following[1])
            since, wakers_cpu = pending.pop(next_tid)
            record = woken.setdefault(next_tid, Woken())
            record.latencies_us.append((at - since) * 1e6)
            record.on_wakers_cpu += cpu == wakers_cpu
    return woken, process


def label(tid: int, pid: int) -> str:
    return f"pid {pid} main thread" if tid == pid else f"pid {pid} thread {tid}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min", type=int, default=200, help="skip threads woken fewer times")
    args = parser.parse_args()
    woken, process = wake_ups(sys.stdin)
    print(f"{'thread':32}{'wakes':>7}{'min':>7}{'p10':>7}{'median':>8}{'p90':>7}  on waker's CPU")
    for tid in sorted(woken, key=lambda tid: (process.get(tid, tid), tid)):
        times = woken[tid].latencies_us
        if len(times) < args.min:
            continue
        share = woken[tid].on_wakers_cpu / len(times)
        print(
            f"{label(tid, process.get(tid, tid)):32}{len(times):7}{min(times):7.0f}"
            f"{percentile(times, 0.1):7.0f}{statistics.median(times):8.0f}"
            f"{percentile(times, 0.9):7.0f}  {share:6.0%}"
        )
    print("µs from wake-up to running")


if __name__ == "__main__":
    main()
