"""Start-up loads only what is used (docs/performance.md, "Start-up"): ``import
speedpix_async`` brings neither HTTP stack, a client brings no blocking runtime, AI Portrait,
batch machinery, emulator or CLI, and ``speedpix --help`` brings no HTTP stack and no rich.
Each check runs in a fresh interpreter, where nothing else has imported those modules yet."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import speedpix_async


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    report = "import json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def under(modules: set[str], *packages: str) -> set[str]:
    """The modules of ``modules`` that belong to any of ``packages``."""
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


def test_importing_the_package_loads_no_http_stack() -> None:
    loaded = loaded_after("import speedpix_async")
    assert under(loaded, "httpx", "aiohttp", "anyio", "cattrs", "click", "rich") == set()
    assert under(loaded, "speedpix_async") == {
        "speedpix_async",
        "speedpix_async._errors",
        "speedpix_async._logging",
        "speedpix_async._redact",
        "speedpix_async._version",
    }


def test_an_async_client_loads_only_its_own_service() -> None:
    loaded = loaded_after("from speedpix_async import AsyncSpeedPix")
    assert "speedpix_async.speedpix.client" in loaded
    assert "httpx" in loaded  # the core's lingua franca
    unused = (
        "aiohttp",  # until a client sends on it
        "speedpix_async._sync",
        "speedpix_async.portrait",
        "speedpix_async.emulator",
        "speedpix_async.cli",
        "speedpix_async.speedpix.batch",
        "speedpix_async._core.journal",
        "puremagic",
    )
    assert under(loaded, *unused) == set()


def test_the_command_help_loads_no_http_stack_and_no_rich() -> None:
    loaded = loaded_after(
        "import contextlib, io\n"
        "from speedpix_async.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
    )
    assert "click" in loaded
    assert under(loaded, "httpx", "aiohttp", "rich", "speedpix_async._core.transport") == set()


@pytest.mark.parametrize("name", sorted(speedpix_async.__all__))
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(speedpix_async, name) is not None
    assert name in dir(speedpix_async)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'AsyncSpeedpix'"):
        _ = speedpix_async.AsyncSpeedpix  # type: ignore[attr-defined]


def test_every_lazy_name_is_public_and_every_other_public_name_is_loaded_eagerly() -> None:
    """The lazy table and ``__all__`` agree, so every name type checkers see is also one the
    module gives at run time (checked in a fresh interpreter, before any lazy lookup)."""
    assert set(speedpix_async._LAZY) <= set(speedpix_async.__all__)
    program = (
        "import speedpix_async as p\n"
        "print([n for n in p.__all__ if n not in p._LAZY and n not in vars(p)])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
