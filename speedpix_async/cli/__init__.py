"""The ``speedpix`` command (``pip install 'speedpix-async[cli]'``): run, wait, get, upload,
batch, portrait, emulator and demo. See README, "Command line"."""

from __future__ import annotations

from ._app import cli, main

__all__ = ["cli", "main"]
