"""docs/emulator.md's "Testing your code" examples are run as they are written, in a fresh
pytest process with the plugin installed, so the documented fixtures, marker, fault scripts,
stats keys and respx recipe cannot drift from what works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ANYIO_BACKENDS

pytest_plugins = ["pytester"]

DOC = Path(__file__).parent.parent / "docs" / "emulator.md"


def _examples() -> list[str]:
    testing = DOC.read_text(encoding="utf-8").split("## Testing your code", 1)[1]
    return [
        block
        for block in re.findall(r"```python\n(.*?)```", testing, flags=re.DOTALL)
        if "def test_" in block
    ]


def test_the_testing_section_has_its_examples() -> None:
    assert len(_examples()) >= 5


def test_every_example_in_the_testing_section_passes(pytester: pytest.Pytester) -> None:
    examples = _examples()
    pytester.makepyfile(**{f"test_doc_{n}": block for n, block in enumerate(examples)})
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-q")
    tests = sum(block.count("\nasync def test_") for block in examples)
    result.assert_outcomes(passed=tests * ANYIO_BACKENDS)
