"""Turning a user's ``input`` into the ``inputs`` object of ``comfy_prompt``
(docs/architecture.md, "File inputs").

Three passes, so that nothing is sent unless everything is usable:

1. **walk** the input (nested dicts and lists), check that every value can be JSON, and collect
   the file references: ``Path``/``PathLike``, ``bytes``, binary file objects, async byte
   iterators, and — only when ``upload_local_paths`` is on — strings written as local paths
   (``./``, ``../``, ``/``, ``~/``, a Windows drive letter, ``file://``) with a media
   extension; a container inside itself or nested deeper than :data:`MAX_INPUT_DEPTH` is refused;
2. **open** every file (existence, type, size, readability) — a problem is an
   :class:`InputError` naming the input key, raised before any request;
3. **upload** the distinct files concurrently (one file referenced twice uploads once) or inline
   them as ``data:`` URIs, and put the resulting URLs in their places.
"""

from __future__ import annotations

import base64
import math
import os
import re
import warnings
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .._core.concurrency import gather_limited
from .._errors import InputError, LocalFileAsTextWarning
from .files import Uploader
from .models import UploadedFile
from .sources import BASE64_LIMIT, MEDIA_EXTENSIONS, FileSource, open_source

__all__ = [
    "MAX_INPUT_DEPTH",
    "UPLOAD_CONCURRENCY",
    "WalkedInputs",
    "format_path",
    "looks_like_local_media_path",
    "place_files",
    "prepare_inputs",
    "walk_inputs",
]

#: Files of one prediction uploaded at the same time.
UPLOAD_CONCURRENCY = 4
#: Deepest nesting of dicts and lists accepted in ``input``; a workflow's inputs are a few levels
#: deep, and a bound keeps a runaway structure a clear error instead of a ``RecursionError``.
MAX_INPUT_DEPTH = 100

#: A drive letter makes a path only on Windows; elsewhere ``"C:/photo.png"`` is text.
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]") if os.name == "nt" else None
_PATH_PREFIXES = ("./", "../", "/", "~/", ".\\", "..\\", "~\\")

Path_ = tuple[Any, ...]


def format_path(path: Path_) -> str:
    """``("params", 2)`` → ``input["params"][2]``."""
    return "input" + "".join(
        f"[{part!r}]" if isinstance(part, int) else f'["{part}"]' for part in path
    )


def _local_path(text: str) -> str | None:
    """The filesystem path a string is written as, or None if it is not written as one."""
    if text.startswith("file://"):
        return unquote(urlsplit(text).path) or None
    if text.startswith(_PATH_PREFIXES) or (_DRIVE is not None and _DRIVE.match(text)):
        return text
    return None


def looks_like_local_media_path(text: str) -> str | None:
    """The path if ``text`` is written as a local path with a media extension, else None.

    ``"./photo.png"``, ``"/abs/clip.mp4"``, ``"~/a.jpg"``, ``"file:///tmp/a.png"`` (and, on
    Windows, ``"C:\\\\x.webp"``) qualify; ``"photo.png"``, ``"/etc/hostname"`` and URLs do not.
    The file's content must still sniff as media when it is opened.
    """
    path = _local_path(text)
    if path is None or "\n" in path:
        return None
    if os.path.splitext(path)[1].lower() not in MEDIA_EXTENSIONS:
        return None
    return path


def _warn_if_a_local_file(text: str, path: Path_) -> None:
    """Warn when a bare string like ``"in.jpg"`` names a local media file: it is sent as text,
    which is rarely what was meant (the service then fails on it, much later)."""
    if (
        len(text) > 255
        or os.path.splitext(text)[1].lower() not in MEDIA_EXTENSIONS
        or "://" in text
        or not os.path.isfile(text)
    ):
        return
    warnings.warn(
        f"{format_path(path)} is the text {text!r}, which names a local file; it is sent as text, "
        f"not uploaded. To upload the file pass Path({text!r}) or write './{text}'; to silence "
        "this, build the client with upload_local_paths=False",
        LocalFileAsTextWarning,
        stacklevel=2,
    )


class _Walker:
    def __init__(self, *, upload_local_paths: bool) -> None:
        self.upload_local_paths = upload_local_paths
        #: ``(where, value, media_only)``: media_only for paths taken from strings, whose
        #: content must then be media.
        self.files: list[tuple[Path_, Any, bool]] = []
        #: ids of the containers being walked, to tell a cycle from a shared value.
        self._open: set[int] = set()

    def walk(self, value: Any, path: Path_) -> Any:
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, str):
            if self.upload_local_paths:
                local = looks_like_local_media_path(value)
                if local is not None:
                    self._string_file(local, value, path)
                    return None
                _warn_if_a_local_file(value, path)
            return value
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                raise InputError(
                    f"{format_path(path)} is {value}, which JSON cannot carry; send a finite number"
                )
            return value
        if isinstance(value, UploadedFile):
            return value.access_url
        if isinstance(value, (os.PathLike, bytes, bytearray, memoryview)) or hasattr(
            value, "__aiter__"
        ):
            self.files.append((path, value, False))
            return None
        if isinstance(value, (Mapping, list, tuple)):
            return self._container(value, path)
        if callable(getattr(value, "read", None)):
            self.files.append((path, value, False))
            return None
        raise InputError(
            f"{format_path(path)} is a {type(value).__name__}, which cannot be sent as JSON; use "
            "str, int, float, bool, None, lists or dicts — or a file (Path, bytes, a binary file "
            "object)"
        )

    def _container(
        self, value: Mapping[Any, Any] | list[Any] | tuple[Any, ...], path: Path_
    ) -> Any:
        if len(path) >= MAX_INPUT_DEPTH:
            raise InputError(
                f"{format_path(path[:3])}… is nested more than {MAX_INPUT_DEPTH} levels deep; "
                "flatten it (a workflow's inputs are a few levels at most)"
            )
        if id(value) in self._open:
            raise InputError(
                f"{format_path(path)} contains itself (a circular reference), which JSON cannot "
                "carry; pass a copy without the cycle"
            )
        self._open.add(id(value))
        try:
            if not isinstance(value, Mapping):
                return [self.walk(item, (*path, index)) for index, item in enumerate(value)]
            out: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InputError(
                        f"{format_path(path)} has a key {key!r} of type {type(key).__name__}; "
                        "JSON object keys must be strings"
                    )
                out[key] = self.walk(item, (*path, key))
            return out
        finally:
            self._open.discard(id(value))

    def _string_file(self, local: str, original: str, path: Path_) -> None:
        candidate = Path(local).expanduser()
        if not candidate.exists():
            raise InputError(
                f"{format_path(path)} is written as a local file path ({original!r}) but no such "
                "file exists; fix the path — or, if it is meant as text, build the client with "
                "upload_local_paths=False"
            )
        self.files.append((path, candidate, True))


def _place(tree: Any, path: Path_, value: Any) -> None:
    for part in path[:-1]:
        tree = tree[part]
    tree[path[-1]] = value


class WalkedInputs:
    """Validated inputs: the JSON-ready object, and the files still to be placed in it."""

    __slots__ = ("files", "prepared")

    def __init__(self, prepared: dict[str, Any], files: list[tuple[Path_, Any, bool]]) -> None:
        self.prepared = prepared
        self.files = files


def walk_inputs(inputs: Any, *, upload_local_paths: bool = True) -> WalkedInputs:
    """Validate ``inputs`` and find its files, without opening any (no I/O: inputs that hold no
    file are ready from here, and need no deadline)."""
    if inputs is None:
        return WalkedInputs({}, [])
    if not isinstance(inputs, Mapping):
        raise InputError(
            f"input must be a dict mapping the workflow's input field names to values, got "
            f"{type(inputs).__name__}"
        )
    walker = _Walker(upload_local_paths=upload_local_paths)
    return WalkedInputs(walker.walk(inputs, ()), walker.files)


async def prepare_inputs(
    inputs: Any,
    *,
    uploader: Uploader,
    strategy: str = "url",
    upload_local_paths: bool = True,
    concurrency: int = UPLOAD_CONCURRENCY,
) -> dict[str, Any]:
    """Validate ``inputs``, upload (or inline) its files, and return the JSON-ready object."""
    walked = walk_inputs(inputs, upload_local_paths=upload_local_paths)
    return await place_files(walked, uploader=uploader, strategy=strategy, concurrency=concurrency)


async def place_files(
    walked: WalkedInputs,
    *,
    uploader: Uploader,
    strategy: str = "url",
    concurrency: int = UPLOAD_CONCURRENCY,
) -> dict[str, Any]:
    """Upload (or inline) the files of walked inputs and return the JSON-ready object."""
    prepared = walked.prepared
    if not walked.files:
        return prepared

    sources: dict[Hashable, FileSource] = {}
    placements: list[tuple[Path_, Hashable]] = []
    try:
        for path, value, media_only in walked.files:
            source = await open_source(value, where=format_path(path), media_only=media_only)
            if source.identity in sources:
                source.close()
            else:
                sources[source.identity] = source
            placements.append((path, source.identity))

        urls: dict[Hashable, str]
        if strategy == "base64":
            for path, identity in placements:
                size = sources[identity].size
                if size > BASE64_LIMIT:
                    raise InputError(
                        f"{format_path(path)} is {size:,} bytes; base64 inlining is limited to "
                        f"{BASE64_LIMIT:,} bytes (1 MiB) — use file_encoding_strategy='url' (the "
                        "default) to upload it instead"
                    )
            urls = {}
            for identity, source in sources.items():
                data = await source.read_all()
                urls[identity] = (
                    f"data:{source.content_type};base64,{base64.b64encode(data).decode('ascii')}"
                )
        else:
            distinct = list(sources.items())
            uploaded = await gather_limited(
                lambda item: uploader.upload(item[1]), distinct, concurrency
            )
            urls = {
                identity: result.access_url
                for (identity, _), result in zip(distinct, uploaded, strict=True)
            }
        for path, identity in placements:
            _place(prepared, path, urls[identity])
    finally:
        for source in sources.values():
            source.close()
    return prepared
