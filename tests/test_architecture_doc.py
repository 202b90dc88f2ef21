"""docs/architecture.md cannot drift from the code: its path table is what
``benchmarks/path_of_run.py`` measures now."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"


def _benchmark() -> Any:
    spec = importlib.util.spec_from_file_location(
        "path_of_run", ROOT / "benchmarks" / "path_of_run.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _table() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("| path of one `run()` | measured |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| (.+?) \| (.+?) \|$", section, flags=re.MULTILINE)
    return {label: value for label, value in rows if not set(label) <= {"-"}}


def test_the_documented_path_is_the_measured_one() -> None:
    path = _benchmark().measure(20)
    table = _table()
    exact = {
        "modules entered": path.modules,
        "modules with behaviour (leaves left out)": len(path.behaviour),
        "distinct caller → callee module pairs": path.pairs,
        "modules with behaviour one more poll enters": len(path.poll_modules),
    }
    for label, measured in exact.items():
        assert int(table[label]) == measured, f"{label}: the document says {table[label]}"
    about = {
        "module switches per poll": path.poll_switches,
        "Python calls into the package per poll": path.poll_calls,
    }
    for label, measured in about.items():
        documented = float(table[label].lstrip("~"))
        assert measured == pytest.approx(documented, rel=0.15), f"{label}: measured {measured:.1f}"
    section = DOC.read_text(encoding="utf-8").split("## The path of one `run()` call", 1)[1]
    section = section.split("\n## ", 1)[0]
    for module in path.poll_modules:
        name = f"{module.rsplit('.', 1)[-1]}.py"
        assert name in section, f"{module} is on the poll path but the section never names it"
