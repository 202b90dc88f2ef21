"""Saving the file outputs of a result into a folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..outputs import FileOutput

__all__ = ["file_outputs", "remove_partials", "save_files"]

#: The temporary name ``FileOutput.save`` downloads into (``speedpix_async.outputs``).
_PARTIAL = re.compile(r"\..+\.[0-9a-f]{8}\.part")


def file_outputs(output: Any) -> Iterator[FileOutput]:
    """Every downloadable file in an output, in order (nested dicts and lists included)."""
    if isinstance(output, FileOutput):
        yield output
    elif isinstance(output, dict):
        for value in output.values():
            yield from file_outputs(value)
    elif isinstance(output, (list, tuple)):
        for value in output:
            yield from file_outputs(value)


def _names(files: list[FileOutput], prefix: str) -> list[str]:
    """One distinct file name per output: ``prefix`` + its own name, numbered on a clash."""
    names: list[str] = []
    for position, file in enumerate(files):
        name = prefix + Path(file.filename).name
        if name in names:
            stem, suffix = Path(name).stem, Path(name).suffix
            name = f"{stem}-{position}{suffix}"
        names.append(name)
    return names


async def save_files(
    output: Any, folder: Path, *, prefix: str = "", keep_existing: bool = False
) -> list[Path]:
    """Download every file of ``output`` into ``folder`` (each atomically); returns the paths.
    ``keep_existing``: a file already there is complete (saves are atomic) — keep it."""
    files = list(file_outputs(output))
    saved = []
    for file, name in zip(files, _names(files, prefix), strict=True):
        target = folder / name
        if not (keep_existing and target.is_file()):
            await file.save(target)
        saved.append(target)
    return saved


def remove_partials(folder: Path) -> int:
    """Delete the temporary ``.<name>.<random>.part`` files a killed process left in
    ``folder`` (a save renames its temporary file into place only once complete)."""
    removed = 0
    for leftover in folder.glob(".*.part"):
        if _PARTIAL.fullmatch(leftover.name) and leftover.is_file():
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed
