"""Saving the file outputs of a result into a folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio

from .._errors import InputError
from ..outputs import FileOutput, leftover_partials

__all__ = ["file_outputs", "remove_partials", "safe_name", "save_files"]


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


#: Longest file name we make from a server's name (most file systems allow 255 bytes).
_MAX_NAME_BYTES = 200


def safe_name(name: str, fallback: str = "output") -> str:
    """A server-chosen file name made safe to create in a folder: its last path part only,
    no control characters (a NUL included), no leading dots (no hidden ``.bashrc``), at most
    :data:`_MAX_NAME_BYTES` bytes, never empty."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in last if ch.isprintable()).strip().lstrip(".").strip()
    if len(cleaned.encode()) > _MAX_NAME_BYTES:
        suffix = Path(cleaned).suffix
        suffix = suffix if len(suffix.encode()) <= 16 else ""
        budget = _MAX_NAME_BYTES - len(suffix.encode())
        stem = cleaned[: len(cleaned) - len(suffix)].encode()[:budget]
        cleaned = stem.decode(errors="ignore") + suffix
    return cleaned or fallback


def _names(files: list[FileOutput], prefix: str) -> list[str]:
    """One distinct file name per output: ``prefix`` + its own (safe) name, numbered on a
    clash."""
    names: list[str] = []
    for position, file in enumerate(files):
        name = prefix + safe_name(file.filename)
        if name in names:
            stem, suffix = Path(name).stem, Path(name).suffix
            name = f"{stem}-{position}{suffix}"
        names.append(name)
    return names


async def _save_new(file: FileOutput, folder: Path, name: str) -> Path:
    """Save ``file`` under ``name`` in ``folder``, or ``stem-1.ext``, ``stem-2.ext``… when the
    name is taken: never replacing a file."""
    stem, suffix = Path(name).stem, Path(name).suffix
    for number in range(10_000):
        target = folder / (name if number == 0 else f"{stem}-{number}{suffix}")
        if await anyio.Path(target).exists():
            continue
        try:
            return await file.save(target, overwrite=False)
        except FileExistsError:
            continue  # taken while we downloaded
    raise InputError(f"too many files named like {name!r} in {str(folder)!r}; use another --out")


async def save_files(
    output: Any, folder: Path, *, prefix: str = "", keep_existing: bool = False
) -> list[Path]:
    """Download every file of ``output`` into ``folder`` (each atomically); returns the paths.

    File names come from the server, so they are made safe (:func:`safe_name`) and never
    replace a file: an existing name gets a numbered sibling. ``keep_existing`` (a batch's own
    files folder, names carrying the input's index): a file already there is an earlier run's
    complete save (saves are atomic) — keep it instead."""
    files = list(file_outputs(output))
    saved = []
    for file, name in zip(files, _names(files, prefix), strict=True):
        target = folder / name
        if keep_existing and await anyio.Path(target).is_file():
            saved.append(target)
        else:
            saved.append(await _save_new(file, folder, name))
    return saved


def remove_partials(folder: Path) -> int:
    """Delete the partial downloads a killed process left in ``folder``; returns how many."""
    leftovers = leftover_partials(folder)
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return len(leftovers)
