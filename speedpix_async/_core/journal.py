"""An append-only JSON-lines file whose records survive a crash once ``append`` returns.

A record is one line of JSON. ``append(record)`` returns only after the line is written and
``fsync``'d, so a process killed at any later instant (``kill -9``, a power cut on a journaling
file system) finds it on the next :func:`open_journal`. Concurrent appends are committed together
— one ``write`` and one ``fsync`` for every record waiting at that moment — so a batch of
thousands of predictions pays for a few hundred syncs, not thousands.

A crash can leave the last line half written (its ``append`` never returned, so nothing relied
on it). Opening drops such a tail — the file is cut back to the end of the last complete line
before anything new is appended — while any other line that is not a JSON object is an error:
that file is not a journal, or someone edited it. One process at a time: opening takes an
exclusive lock on the file where the platform has ``fcntl``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from .._errors import InputError

__all__ = ["Journal", "open_journal"]


class Journal:
    """A journal open for appending. Create it with :func:`open_journal`."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._pending: list[bytes] = []
        self._queued = 0
        self._durable = 0
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    async def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line; return once it is on disk."""
        if self._fd < 0:
            raise InputError(f"journal {str(self.path)!r} is closed; nothing more can be added")
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        self._pending.append(line.encode() + b"\n")
        self._queued += 1
        mine = self._queued
        async with self._lock:
            if self._durable >= mine:
                return  # an earlier commit carried this record too
            chunk, self._pending = b"".join(self._pending), []
            upto = self._queued
            # Shielded: once taken from the queue, the records must reach the disk (and the
            # counter must say so) even if the appending task is cancelled meanwhile.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_write_and_sync, self._fd, chunk)
            self._durable = upto

    def close(self) -> None:
        """Close the file. Records are already durable; closing loses nothing."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


def _write_and_sync(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def _read(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The complete records of ``path`` and the byte length they occupy."""
    records: list[dict[str, Any]] = []
    good = 0
    with path.open("rb") as file:
        for number, line in enumerate(file, 1):
            if not line.endswith(b"\n"):
                break  # torn by a crash mid-write: its append never returned
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                raise InputError(
                    f"line {number} of {str(path)!r} is not a journal record: the file is not a "
                    "journal, or was edited; give a new path (or restore the file)"
                )
            records.append(record)
            good += len(line)
    return records, good


def open_journal(path: str | os.PathLike[str]) -> tuple[Journal, list[dict[str, Any]]]:
    """Open (creating it if needed) the journal at ``path``; also returns the records it held
    (complete lines only), which the journal itself does not keep."""
    target = Path(path)
    if target.is_dir():
        raise InputError(f"the journal path {str(target)!r} is a directory; give a file name")
    if not target.parent.is_dir():
        raise InputError(
            f"the journal's directory {str(target.parent)!r} does not exist; create it first"
        )
    created = not target.exists()
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        _lock(fd, target)
        records, good = _read(target)
        if os.fstat(fd).st_size != good:
            os.ftruncate(fd, good)
            os.fsync(fd)
        if created:
            _sync_directory(target.parent)
    except BaseException:
        os.close(fd)
        raise
    return Journal(target, fd), records


def _lock(fd: int, path: Path) -> None:
    """Refuse a journal another process has open: two writers would interleave their records."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InputError(
            f"the journal {str(path)!r} is in use by another process; give each process its "
            "own journal (for example one per --shard)"
        ) from None


def _sync_directory(directory: Path) -> None:
    """Make a new file's directory entry durable (POSIX; a no-op where directories cannot be
    opened)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
