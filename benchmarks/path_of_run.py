"""Which of the package's modules one ``client.run()`` goes through, and how often it crosses
between them — the figures behind docs/architecture.md, "The path of one run() call".

Runs ``wf-echo`` against the in-process emulator (after a warm-up call) with a profiler that
records every call into ``speedpix_async`` (the emulator excluded) and reports:

* modules entered, and those with behaviour (leaves — errors, models, the converter, signing
  functions, argument checks — left out);
* distinct caller → callee module pairs (how tangled the path is);
* module crossings per poll, from a run that polls progress ``--polls`` times.

    python benchmarks/path_of_run.py [--polls 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from types import FrameType
from typing import Any

from speedpix_async import PollPolicy
from speedpix_async.emulator import Emulator

LEAVES = {"_converter", "_signing", "_validate", "models", "_errors", "_config", "_version"}
PACKAGE = "speedpix_async"


def _module(frame: FrameType | None) -> str:
    name = "" if frame is None else str(frame.f_globals.get("__name__", ""))
    if not name.startswith(PACKAGE) or name.startswith(f"{PACKAGE}.emulator"):
        return ""
    return name[len(PACKAGE) + 1 :] or "__init__"


class Recorder:
    def __init__(self) -> None:
        self.modules: Counter[str] = Counter()
        self.edges: Counter[tuple[str, str]] = Counter()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        callee = _module(frame)
        if not callee:
            return
        self.modules[callee] += 1
        caller_frame = frame.f_back
        while caller_frame is not None and not _module(caller_frame):
            caller_frame = caller_frame.f_back
        caller = _module(caller_frame)
        if caller and caller != callee:
            self.edges[(caller, callee)] += 1


async def record(polls: int) -> tuple[Recorder, Recorder]:
    emulator = Emulator(time_scale=1.0)
    policy = PollPolicy(min_interval=0.05, max_interval=0.2, fallback_interval=0.05)
    async with emulator.client(poll_policy=policy) as client:
        await client.run("wf-echo", {"warm": "up"})
        one = Recorder()
        sys.setprofile(one)
        await client.run("wf-echo", {"a": 1})
        sys.setprofile(None)
        polling = Recorder()
        interval = 0.3 / polls
        sys.setprofile(polling)
        await client.run("wf-echo", {"a": 2, "seconds": 0.3}, polling_interval=interval)
        sys.setprofile(None)
    return one, polling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=10, help="progress polls in the second run")
    args = parser.parse_args()
    one, polling = asyncio.run(record(args.polls))
    behaviour = sorted(m for m in one.modules if m not in LEAVES)
    print("one run() with the default polling (a submit and one poll aimed at the end):")
    print(f"  modules entered:        {len(one.modules)}")
    print(f"  with behaviour:         {len(behaviour)}  ({', '.join(behaviour)})")
    print(f"  distinct module pairs:  {len(one.edges)}")
    extra = sum(polling.edges.values()) - sum(one.edges.values())
    print(f"a run polling progress about {args.polls} times:")
    print(f"  module crossings per extra poll: ~{extra / args.polls:.0f}")


if __name__ == "__main__":
    main()
