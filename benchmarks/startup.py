"""Start-up cost: what a fresh interpreter pays to import the package and run ``--help``.

Each figure is the wall time of one step in a new ``python`` process (warm: the bytecode is
already compiled), min / median over ``--rounds``:

* ``import speedpix_async``;
* ``from speedpix_async import AsyncSpeedPix`` (a client's own imports, httpx included);
* ``from speedpix_async import SpeedPix`` (the blocking client);
* ``speedpix --help`` (the whole process, as a shell runs it);
* ``python -c pass`` (the interpreter alone, for reference).

    python benchmarks/startup.py [--rounds 15]

Targets (issue "Fast by default"): ``import speedpix_async`` <= 150 ms, ``speedpix --help``
<= 400 ms. Set ``PYTHONPATH`` to another checkout to measure it instead.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

TIMED = "import time; t = time.perf_counter(); {step}; print(time.perf_counter() - t)"

STEPS = {
    "import speedpix_async": "import speedpix_async",
    "from speedpix_async import AsyncSpeedPix": "from speedpix_async import AsyncSpeedPix",
    "from speedpix_async import SpeedPix": "from speedpix_async import SpeedPix",
}


def in_process(step: str) -> float:
    """Seconds ``step`` takes inside a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", TIMED.format(step=step)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def whole_process(*argv: str) -> float:
    """Seconds a whole process takes, from start to exit."""
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    measures: dict[str, Callable[[], float]] = {
        name: functools.partial(in_process, step) for name, step in STEPS.items()
    }
    measures["speedpix --help"] = functools.partial(
        whole_process, sys.executable, "-m", "speedpix_async", "--help"
    )
    measures["python -c pass"] = functools.partial(whole_process, sys.executable, "-c", "pass")
    for measure in measures.values():
        measure()  # compile the bytecode, warm the file cache
    times: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(args.rounds):  # interleaved, so background load hits every row alike
        for name, measure in measures.items():
            times[name].append(measure() * 1000)
    print(f"{args.rounds} rounds, fresh process each; ms")
    print(f"{'step':44}{'min':>8}{'median':>8}")
    for name, values in times.items():
        print(f"{name:44}{min(values):8.0f}{statistics.median(values):8.0f}")


if __name__ == "__main__":
    main()
