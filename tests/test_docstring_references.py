"""Every cross-reference in the package's docstrings (``:class:`~.retry.OutcomeUnknown```,
``:func:`speedpix_async.testing.set_testing```…) names something that exists: docstrings cannot
point at a module or class that was renamed or removed."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1] / "speedpix_async"
ROLE = re.compile(r":(?:class|func|meth|mod|data|exc|attr):`~?([\w.]+)`")
#: Third-party names we do not resolve (they may be absent, or typeshed-only).
FOREIGN = ("httpx.", "anyio.", "attrs.", "aiohttp.", "asyncio.", "os.", "typing.", "pathlib.")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def _references() -> list[tuple[str, int, str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_generated.py":
            continue  # generated from the async docstrings, which are checked themselves
        module = _module_name(path)
        text = path.read_text(encoding="utf-8")
        for match in ROLE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((module, line, match.group(1), path.name))
    return found


def _broken(module: str, target: str, filename: str) -> bool:
    if target.startswith(FOREIGN) or "." not in target.lstrip("."):
        return False  # a bare name (a parameter, a method of this class) or another project's
    if target.startswith("."):
        package = module if filename == "__init__.py" else module.rpartition(".")[0]
        dots = len(target) - len(target.lstrip("."))
        base = package.split(".")[: len(package.split(".")) - (dots - 1)]
        candidate = ".".join([*base, target.lstrip(".")])
    elif target.startswith("speedpix_async"):
        candidate = target
    else:  # Class.member, relative to this module
        candidate = f"{module}.{target}"
    return not _resolve(candidate)


def test_every_docstring_reference_resolves() -> None:
    references = _references()
    assert len(references) > 100, "the scan found the docstrings"
    broken = [
        f"{module}:{line}: {target}"
        for module, line, target, filename in references
        if _broken(module, target, filename)
    ]
    assert not broken, "references to nothing:\n" + "\n".join(broken)
