"""Which of the package's modules one ``client.run()`` goes through, and what one poll costs —
the figures behind docs/architecture.md, "The path of one run() call" (a test compares them with
the document: tests/test_architecture_doc.py).

Runs ``wf-echo`` against the in-process emulator (after a warm-up call) with a profiler that
records every call into ``speedpix_async`` (the emulator excluded) and reports:

* modules entered, and those with behaviour (leaves — errors, models, the converter, signing
  functions, argument checks, configuration — left out), and the distinct caller → callee
  module pairs (how tangled the path is);
* per poll, from a run that polls progress ``--polls`` times more than a plain run: the modules
  with behaviour a poll enters, its module switches and its Python calls into the package.

    python benchmarks/path_of_run.py [--polls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from types import FrameType
from typing import Any

import attrs

from speedpix_async import PollPolicy
from speedpix_async.emulator import Emulator

#: Modules without behaviour of their own: values, errors, checks, configuration.
LEAVES = {
    "_converter",
    "_signing",
    "_validate",
    "_errors",
    "_config",
    "_version",
    "_redact",
    "speedpix.models",
    "speedpix.errors",
    "speedpix.config",
    "speedpix.options",
}
PACKAGE = "speedpix_async"
#: The shortest polling interval a client allows.
INTERVAL = 0.05


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


@attrs.frozen
class Path:
    """What one run() and one poll cost in modules and calls."""

    modules: int
    behaviour: tuple[str, ...]
    pairs: int
    poll_modules: tuple[str, ...]
    """Modules with behaviour every poll enters."""
    poll_switches: float
    poll_calls: float


async def _record(polls: int) -> tuple[Recorder, Recorder, int]:
    emulator = Emulator(time_scale=1.0)
    policy = PollPolicy(min_interval=INTERVAL, max_interval=0.2, fallback_interval=INTERVAL)
    async with emulator.client(poll_policy=policy) as client:
        await client.run("wf-echo", {"warm": "up"})
        one = Recorder()
        sys.setprofile(one)
        await client.run("wf-echo", {"a": 1})
        sys.setprofile(None)
        before = sum(emulator.stats.requests.values())
        polling = Recorder()
        sys.setprofile(polling)
        await client.run(
            "wf-echo", {"a": 2, "seconds": INTERVAL * polls}, polling_interval=INTERVAL
        )
        sys.setprofile(None)
        made = sum(emulator.stats.requests.values()) - before
    return one, polling, made


def measure(polls: int = 20) -> Path:
    one, polling, made = asyncio.run(_record(polls))
    extra = max(1, made - 2)  # a plain run makes two requests: the submit and the result
    calls = sum(polling.modules.values()) - sum(one.modules.values())
    switches = sum(polling.edges.values()) - sum(one.edges.values())
    grown = {m for m in polling.modules if polling.modules[m] - one.modules[m] >= extra}
    return Path(
        modules=len(one.modules),
        behaviour=tuple(sorted(m for m in one.modules if m not in LEAVES)),
        pairs=len(one.edges),
        poll_modules=tuple(sorted(m for m in grown if m not in LEAVES)),
        poll_switches=switches / extra,
        poll_calls=calls / extra,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=20, help="extra progress polls to average")
    args = parser.parse_args()
    path = measure(args.polls)
    print("one run() with the default polling (a submit and one poll aimed at the end):")
    print(f"  modules entered:        {path.modules}")
    print(f"  with behaviour:         {len(path.behaviour)}  ({', '.join(path.behaviour)})")
    print(f"  distinct module pairs:  {path.pairs}")
    print("one more progress poll:")
    print(f"  modules with behaviour: {len(path.poll_modules)}  ({', '.join(path.poll_modules)})")
    print(f"  module switches:        ~{path.poll_switches:.0f}")
    print(f"  Python calls:           ~{path.poll_calls:.0f}")


if __name__ == "__main__":
    main()
