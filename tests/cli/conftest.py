"""The ``speedpix`` command against a loopback emulator: in-process through ``main()`` (fast),
and as a real process where the process itself is under test (signals, the console script)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from speedpix_async.cli import main
from speedpix_async.emulator import Emulator
from tests.conftest import TIME_SCALE


@pytest.fixture
def speedpix_emulator() -> Emulator:
    return Emulator(time_scale=TIME_SCALE)


class Shell:
    """Runs ``speedpix`` in-process and keeps what it printed."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self.out = self.err = ""

    def __call__(self, *args: str) -> int:
        self._capsys.readouterr()
        code = main(list(args))
        self.out, self.err = self._capsys.readouterr()
        return code

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def speedpix(capsys: pytest.CaptureFixture[str]) -> Shell:
    return Shell(capsys)
