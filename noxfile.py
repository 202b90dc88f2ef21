"""Developer sessions: ``nox -s lint typecheck tests codegen examples bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "codegen", "tests"]
nox.options.reuse_existing_virtualenvs = True

#: The oldest and the newest supported Python.
PYTHONS = ["3.10", "3.13"]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, tests, benchmarks, examples and scripts."""
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite (emulator in-process and over loopback)."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
def codegen(session: nox.Session) -> None:
    """Fail when the generated blocking wrapper is stale (python scripts/generate_sync.py)."""
    session.install("-e", ".[dev]")
    session.run("python", "scripts/generate_sync.py", "--check")


@nox.session
def examples(session: nox.Session) -> None:
    """Run every script in examples/ against a loopback emulator."""
    session.install("-e", ".[dev]")
    session.run("pytest", "tests/test_examples.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks; they print measurements and assert nothing."""
    session.install("-e", ".[dev]")
    session.run("python", "benchmarks/client_construction.py")
    session.run("python", "benchmarks/request_overhead.py")
    session.run("python", "benchmarks/batch_overhead.py")
    session.run("python", "benchmarks/path_of_run.py")
    session.run("python", "benchmarks/upload_memory.py", "--size-mb", "512")
    session.run("python", "benchmarks/sync_overhead.py")
    session.run("python", "benchmarks/sync_overhead.py", "--same-cpu")
    for backend in ("native", "aiohttp", "httpx"):
        session.run("python", "benchmarks/sync_overhead.py", "--emulator", "--backend", backend)
    session.run("python", "benchmarks/startup.py")
    session.run("python", "benchmarks/emulator_routes.py")
    session.run("python", "benchmarks/fanout.py", "--sizes", "1000,10000", "--backends", "default")
    session.run(
        "python", "benchmarks/fanout.py", "--sizes", "10000", "--backends", "default",
        "--gc-threshold", "10000,50,100",
    )  # fmt: skip
    session.run("python", "benchmarks/fanout.py", "--sizes", "200,1000,5000,10000")
    session.run(
        "python",
        "benchmarks/fanout.py",
        "--sizes",
        "1000",
        "--backends",
        "default",
        "--seconds",
        "300",
        "--time-scale",
        "0.01",
    )
    session.run("python", "benchmarks/chaos.py", "--n", "500", "--fault-rate", "0.15")
    session.run("python", "benchmarks/compare_official.py", "--n", "200")
