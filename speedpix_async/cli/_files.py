"""Saving the file outputs of a result into a folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..outputs import FileOutput, leftover_partials

__all__ = ["file_outputs", "remove_partials", "save_files"]


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
    """Delete the partial downloads a killed process left in ``folder``; returns how many."""
    leftovers = leftover_partials(folder)
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return len(leftovers)
