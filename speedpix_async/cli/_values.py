"""Turning command-line text into inputs: ``-i key=value``, ``@file`` references, JSON lines.

The same rules hold for ``-i`` options and for the values in a batch's JSON-lines file:

* ``key=value`` — the value is JSON when it parses as JSON (``steps=20`` is a number,
  ``flags=[1,2]`` a list), else the text as it is (``text=white background``);
* ``key=@photo.jpg`` — a local file, uploaded before the task is submitted (a relative path is
  relative to the current directory for ``-i``, to the inputs file's folder for a batch);
* ``key=@@literal`` — the text ``@literal`` (a leading ``@@`` escapes the ``@``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .._errors import InputError

__all__ = ["file_reference", "parse_assignments", "read_json_lines"]


def file_reference(text: str, base: Path) -> Any:
    """``@path`` → a Path under ``base``; ``@@text`` → ``@text``; anything else unchanged."""
    if text.startswith("@@"):
        return text[1:]
    if text.startswith("@"):
        path = base / text[1:]
        if not path.is_file():
            raise InputError(
                f"{text!r} names a file to upload, but {str(path)!r} is not a file; fix the path "
                "(write @@ for a text that starts with @)"
            )
        return path
    return text


def _resolve(value: Any, base: Path) -> Any:
    if isinstance(value, str):
        return file_reference(value, base)
    if isinstance(value, list):
        return [_resolve(item, base) for item in value]
    if isinstance(value, dict):
        return {key: _resolve(item, base) for key, item in value.items()}
    return value


def parse_assignments(
    pairs: Iterable[str], base: Path | None, *, option: str = "-i"
) -> dict[str, Any]:
    """The dict of ``-i key=value`` options (``base``: where ``@file`` paths start; None: no
    files, as for ``portrait create -c``)."""
    hint = " (key=@file to upload a file)" if base is not None else ""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise InputError(f"{option} {pair!r}: write key=value{hint}")
        if key in values:
            raise InputError(f"{option} {key}=… is given twice; give each once")
        if base is not None and text.startswith("@"):
            values[key] = file_reference(text, base)
            continue
        try:
            values[key] = json.loads(text)
        except ValueError:
            values[key] = text
    return values


def read_json_lines(path: Path) -> list[Any]:
    """Every input object of a JSON-lines file (blank lines skipped), ``@file`` values
    resolved against the file's folder. Checked whole before anything is sent."""
    if not path.is_file():
        raise InputError(f"the inputs file {str(path)!r} does not exist or is not a file")
    inputs = []
    for number, line in _lines(path):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}:{number}: not JSON ({exc.msg}); write one input object per line"
            ) from None
        if not isinstance(value, dict):
            raise InputError(
                f'{path}:{number}: expected an input object like {{"prompt": "…"}}, got '
                f"{type(value).__name__}"
            )
        inputs.append(_resolve(value, path.parent))
    return inputs


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(
                    f"{path}:{number}: not UTF-8 text; save the file as UTF-8"
                ) from None
            if line.strip():
                yield number, line
