"""The public API is what the public modules export; the service packages (``speedpix/``,
``portrait/``), the core and the leaves are implementation (as trio checks its own)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest

import speedpix_async

#: The modules users import from.
PUBLIC = (
    "speedpix_async",
    "speedpix_async.sync",
    "speedpix_async.testing",
    "speedpix_async.emulator",
)


def _exports(module: str) -> dict[str, Any]:
    loaded = importlib.import_module(module)
    return {name: getattr(loaded, name) for name in loaded.__all__}


def _internal_modules() -> list[str]:
    """Every module of the package that is not public."""
    found = []
    for info in pkgutil.walk_packages(speedpix_async.__path__, "speedpix_async."):
        name = info.name
        if name in PUBLIC or name.startswith("speedpix_async.emulator") or ".cli" in name:
            continue
        if name.endswith("__main__"):
            continue
        found.append(name)
    return found


def test_every_public_name_resolves_to_one_object_wherever_it_is_exported() -> None:
    # (speedpix_async.sync is left out: there the same names mean the blocking twins, by design;
    # tests/sync/test_parity.py pairs them.)
    seen: dict[str, tuple[str, Any]] = {}
    for module in PUBLIC:
        if module == "speedpix_async.sync":
            continue
        for name, value in _exports(module).items():
            if name in seen:
                first, other = seen[name]
                assert other is value, f"{name} means different things in {first} and {module}"
            else:
                seen[name] = (module, value)


@pytest.mark.parametrize("module", _internal_modules())
def test_what_internal_modules_define_for_users_is_exported_by_a_public_module(
    module: str,
) -> None:
    """A user never has to import from speedpix_async.speedpix.client or the like: every
    public class an internal module's ``__all__`` lists and that the API hands to users (its
    name shows in a public module's signatures or docs) is exported by a public module."""
    public_objects = {id(value) for name in PUBLIC for value in _exports(name).values()}
    loaded = importlib.import_module(module)
    for name in getattr(loaded, "__all__", ()):
        value = getattr(loaded, name)
        if not isinstance(value, type) or value.__module__ != module:
            continue
        if name.startswith("Async") or name in _HANDED_TO_USERS:
            assert id(value) in public_objects, f"{module}.{name} is not exported publicly"


#: Classes (besides every ``Async…`` class) that calls return to users, so users must be able
#: to import them for annotations.
_HANDED_TO_USERS = {
    "Prediction",
    "Progress",
    "UploadedFile",
    "BatchResult",
    "FileOutput",
    "ImageFile",
    "VideoFile",
    "AudioFile",
    "DocumentFile",
    "PortraitImage",
    "CheckResult",
    "Job",
    "PortraitConfig",
    "RunKeywords",
    "SubmitKeywords",
    "ClientConfig",
    "ClientKeywords",
}
