"""Turning command-line text into inputs: ``-i key=value``, ``@file`` references, JSON lines.

* ``key=value`` — the value is JSON when it parses as JSON (``steps=20`` is a number,
  ``flags=[1,2]`` a list), else the text as it is (``text=white background``);
* ``key=@photo.jpg`` — a local file, uploaded before the task is submitted, relative to the
  current directory (``@@literal`` is the text ``@literal``).

A batch's JSON-lines file is data, possibly written by someone else, so its ``@`` references are
held to more (:class:`FileReferences`): the file must lie inside the inputs file's folder (or
``--files-root``), symlinks followed, and its content must be an image, video or audio;
``--no-uploads`` sends every ``@…`` string as text. A line that cannot be used — not JSON,
nested too deep, a refused reference — becomes that input's error; the other lines run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs

from .._core.answers import TooDeep, load_json
from .._errors import InputError
from ..speedpix.sources import MAGIC_BYTES, detect_content_type, is_media

__all__ = ["FileReferences", "file_reference", "parse_assignments", "read_json_lines"]


@attrs.frozen
class FileReferences:
    """How ``@path`` strings in a batch's lines are read."""

    base: Path
    """Where relative paths start: the inputs file's folder."""
    root: Path | None
    """Every referenced file must resolve inside this folder; None: ``@…`` is text."""
    media_only: bool = True
    """The file's content must be an image, video or audio (as for path-like strings in the
    library)."""


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


def _confined(text: str, refs: FileReferences) -> Any:
    """A batch line's ``@path``, checked against ``refs`` (see the module docstring)."""
    if refs.root is None or not text.startswith("@"):
        return text  # --no-uploads: every value is text, as written
    if text.startswith("@@"):
        return text[1:]
    path = file_reference(text, refs.base)
    real = Path(os.path.realpath(path))
    root = Path(os.path.realpath(refs.root))
    if not real.is_relative_to(root):
        raise InputError(
            f"{text!r} points outside {str(refs.root)!r}, the folder batch files may come from; "
            "move the file there, pass --files-root to allow another folder, or --no-uploads "
            "to send @… values as text"
        )
    if refs.media_only:
        with real.open("rb") as file:
            kind = detect_content_type(file.read(MAGIC_BYTES), None)
        if not is_media(kind):
            raise InputError(
                f"{text!r} is not an image, video or audio file (its content reads as {kind}); "
                "batch lines upload media only — pass it with -i key=@file in `speedpix run`, "
                "or --no-uploads to send @… values as text"
            )
    return path


def _resolve(value: Any, refs: FileReferences) -> Any:
    if isinstance(value, str):
        return _confined(value, refs)
    if isinstance(value, list):
        return [_resolve(item, refs) for item in value]
    if isinstance(value, dict):
        return {key: _resolve(item, refs) for key, item in value.items()}
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


def read_json_lines(path: Path, refs: FileReferences | None = None) -> list[Any]:
    """One input per non-blank line of a JSON-lines file, in order.

    A line that cannot be used is an :class:`InputError` in its place (run_many delivers it as
    that input's error, sending nothing), so one bad line never stops the batch. ``refs``:
    how ``@path`` values are read (default: inside the file's folder, media only)."""
    if not path.is_file():
        raise InputError(f"the inputs file {str(path)!r} does not exist or is not a file")
    if refs is None:
        refs = FileReferences(base=path.parent, root=path.parent)
    return [_line_input(path, number, line, refs) for number, line in _lines(path)]


def _line_input(path: Path, number: int, line: bytes, refs: FileReferences) -> Any:
    where = f"{path}:{number}"
    try:
        value = load_json(line)
    except TooDeep as exc:
        return InputError(f"{where}: the input is {exc}; flatten it")
    except UnicodeDecodeError:
        return InputError(f"{where}: not UTF-8 text; save the file as UTF-8")
    except json.JSONDecodeError as exc:
        return InputError(f"{where}: not JSON ({exc.msg}); write one input object per line")
    if not isinstance(value, dict):
        return InputError(
            f'{where}: expected an input object like {{"prompt": "…"}}, got {type(value).__name__}'
        )
    try:
        return _resolve(value, refs)
    except InputError as exc:
        return InputError(f"{where}: {exc}")
    except OSError as exc:
        return InputError(f"{where}: cannot read a referenced file ({exc.strerror})")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            if raw.strip():
                yield number, raw
