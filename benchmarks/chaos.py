"""Predictions through a misbehaving service: do they all end well, and never twice?

Runs ``--n`` predictions through ``client.run_many`` against an emulator (in a separate process)
that injects every fault kind — throttling, 503s, connection resets, slow and truncated
responses, error envelopes — into ``--fault-rate`` of all requests, on every route, including
faults that strike *after* a submit created its task. Reports:

* predictions succeeded, and failed by error class;
* submitted twice: tasks the server created minus distinct submissions (every input is unique);
* untyped exceptions (anything not a ``SpeedPixError``);
* requests per prediction, faults injected by kind.

    python benchmarks/chaos.py [--n 500] [--fault-rate 0.15] [--seed 1]

Target: every prediction succeeds or fails with SubmitOutcomeUnknownError; zero submitted twice;
zero untyped exceptions.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import anyio
from _common import EmulatorProcess, emulator_process, raise_fd_limit, reset_stats, stats

from speedpix_async import AsyncSpeedPix, SpeedPixError, SubmitOutcomeUnknownError

#: Read timeout of the client; a "slow" fault holds a response longer than this.
CLIENT_TIMEOUT = 1.0
SLOW_SECONDS = 1.5


async def chaos(
    endpoint: EmulatorProcess, n: int, concurrency: int
) -> tuple[Counter[str], int, float]:
    outcomes: Counter[str] = Counter()
    untyped = 0
    async with AsyncSpeedPix(
        "demo-app-key", "demo-app-secret", endpoint=endpoint, timeout=CLIENT_TIMEOUT
    ) as client:
        reset_stats(endpoint)
        started = time.perf_counter()
        inputs = ({"seconds": 0.5, "i": i} for i in range(n))
        async for result in client.run_many("wf-sleep", inputs, concurrency=concurrency):
            if result.ok:
                outcomes["succeeded"] += 1
            else:
                outcomes[type(result.error).__name__] += 1
                if not isinstance(result.error, SpeedPixError):
                    untyped += 1
        wall = time.perf_counter() - started
    return outcomes, untyped, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--fault-rate", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    raise_fd_limit()
    flags = (
        f"--fault-rate={args.fault_rate}",
        f"--fault-seed={args.seed}",
        f"--slow-seconds={SLOW_SECONDS}",
    )
    with emulator_process(*flags) as endpoint:
        outcomes, untyped, wall = anyio.run(chaos, endpoint, args.n, args.concurrency)
        server = stats(endpoint)
    duplicates = server["tasks_created"]["total"] - server["distinct_submissions"]
    scc_requests = sum(
        count
        for route, count in server["requests"]["by_route"].items()
        if route.startswith("/scc/")
    )
    acceptable = {"succeeded", SubmitOutcomeUnknownError.__name__}
    unexpected = {kind: count for kind, count in outcomes.items() if kind not in acceptable}
    print(
        f"{args.n} predictions, fault rate {args.fault_rate:g} on every route (seed {args.seed}), "
        f"concurrency {args.concurrency}, client timeout {CLIENT_TIMEOUT:g}s, wall {wall:.1f}s"
    )
    print(f"  outcomes:                 {dict(outcomes)}")
    print(f"  faults injected:          {server['faults_injected']['by_kind']}")
    print(f"  faults by phase:          {server['faults_injected']['by_kind_and_phase']}")
    print(f"  tasks created:            {server['tasks_created']['total']}")
    print(f"  submitted twice:          {duplicates}")
    print(f"  untyped exceptions:       {untyped}")
    print(f"  requests per prediction:  {scc_requests / args.n:.2f}")
    verdict = "MET" if not unexpected and duplicates == 0 and untyped == 0 else "NOT MET"
    print(
        f"target (only successes or SubmitOutcomeUnknownError, no duplicates, all typed): {verdict}"
    )
    if unexpected:
        print(f"  unexpected outcomes: {unexpected}")


if __name__ == "__main__":
    main()
