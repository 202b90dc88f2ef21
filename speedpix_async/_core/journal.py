"""An append-only JSON-lines file whose records survive a crash once ``append`` returns.

A record is one line of JSON. ``append(record)`` returns only after the line is written and
``fsync``'d, so a process killed at any later instant (``kill -9``, a power cut on a journaling
file system) finds it on the next :func:`open_journal`. Concurrent appends are committed together
— one ``write`` and one ``fsync`` for every record waiting at that moment — so a batch of
thousands of predictions pays for a few hundred syncs, not thousands.

The first line is a header naming the kind of journal (``{"journal": kind, ...}``). Nothing
that is not proven to be a journal of that kind is ever changed: a file whose first line is
something else is refused untouched, whoever's it is (a results file given as the journal by
mistake, someone's notes). A crash can leave the last line half written (its ``append`` never
returned, so nothing relied on it); such a tail is cut off only when this process appends its
first record — after the caller has checked the header — so a journal that belongs to another
batch is refused untouched too. Any other line that is not a JSON object is
:class:`~speedpix_async.JournalDamagedError`. One process at a time: opening takes an exclusive
lock on the file where the platform has ``fcntl``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from .._errors import InputError, JournalDamagedError

__all__ = ["Journal", "Opened", "open_journal"]

Numbered = tuple[int, dict[str, Any]]
"""A record and its 1-based line number in the file."""


def _line(record: Mapping[str, Any]) -> bytes:
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode() + b"\n"


class Journal:
    """A journal open for appending. Create it with :func:`open_journal`."""

    def __init__(
        self, path: Path, fd: int, *, header: Mapping[str, Any] | None, complete: int | None
    ) -> None:
        self.path = path
        self._fd = fd
        # Written before the first record when the file has none yet.
        self._pending: list[bytes] = [] if header is None else [_line(header)]
        # Where a torn last line starts, cut off before the first write (None: nothing torn).
        self._torn_at = complete
        self._queued = 0
        self._durable = 0
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    async def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line; return once it is on disk."""
        if self._fd < 0:
            raise InputError(f"journal {str(self.path)!r} is closed; nothing more can be added")
        self._pending.append(_line(record))
        self._queued += 1
        mine = self._queued
        async with self._lock:
            if self._durable >= mine:
                return  # an earlier commit carried this record too
            chunk, self._pending = b"".join(self._pending), []
            upto = self._queued
            torn_at, self._torn_at = self._torn_at, None
            # Shielded: once taken from the queue, the records must reach the disk (and the
            # counter must say so) even if the appending task is cancelled meanwhile.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_write_and_sync, self._fd, chunk, torn_at)
            self._durable = upto

    def close(self) -> None:
        """Close the file. Records are already durable; closing loses nothing."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


def _write_and_sync(fd: int, data: bytes, cut_at: int | None) -> None:
    if cut_at is not None:
        os.ftruncate(fd, cut_at)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def _header_start(kind: str) -> bytes:
    """How the first line of a journal of ``kind`` begins, byte for byte."""
    return _line({"journal": kind})[:-2]  # without the closing brace and newline


class _Reading:
    """What :func:`_read` found: the header, the records after it, and where a torn tail
    begins (None when the file ends with a complete line)."""

    def __init__(self) -> None:
        self.header: dict[str, Any] | None = None
        self.records: list[Numbered] = []
        self.torn_at: int | None = None


def _read(path: Path, fd: int, kind: str) -> _Reading:
    """The journal's lines, refusing a file that is not a journal of ``kind`` or is damaged."""
    reading = _Reading()
    start = _header_start(kind)
    good = 0
    with os.fdopen(os.dup(fd), "rb") as file:
        file.seek(0)
        for number, line in enumerate(file, 1):
            if not line.endswith(b"\n"):
                # Torn by a crash mid-write (its append never returned) — if this file is a
                # journal at all: a first line must be the beginning of our header.
                if number == 1 and not (start.startswith(line) or line.startswith(start)):
                    raise _not_a_journal(path, kind)
                reading.torn_at = good
                break
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if number == 1:
                if not isinstance(record, dict) or record.get("journal") != kind:
                    raise _not_a_journal(path, kind)
                reading.header = record
            elif isinstance(record, dict):
                reading.records.append((number, record))
            else:
                raise JournalDamagedError(
                    f"the journal {str(path)!r} is damaged at line {number}: not a JSON object "
                    "(edited, or damaged on disk); restore the file, delete that line, or give "
                    "a new journal path — nothing was sent or changed",
                    path=str(path),
                    line=number,
                )
            good += len(line)
    return reading


def _not_a_journal(path: Path, kind: str) -> InputError:
    return InputError(
        f"{str(path)!r} is not a journal of this kind ({kind}): its first line is something "
        "else. It was left untouched; give a journal path of its own (a new file name)"
    )


class Opened:
    """An opened journal: the :class:`Journal` to append to, and what the file held."""

    def __init__(self, journal: Journal, reading: _Reading) -> None:
        self.journal = journal
        self.header = reading.header
        """The header found in the file (None: a new journal)."""
        self.records = reading.records
        """Every complete record after the header, with its line number."""


def open_journal(path: str | os.PathLike[str], header: Mapping[str, Any]) -> Opened:
    """Open (creating it if needed) the journal at ``path`` for one process.

    ``header["journal"]`` names the kind of journal: a file whose first line is not a header of
    that kind is refused untouched. Whether the header found is the right one (the same batch)
    is the caller's decision, taken before anything is appended: ``header`` itself is written
    only when the file holds none yet, with the first record."""
    target = Path(path)
    kind = str(header["journal"])
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
        reading = _read(target, fd, kind)
        if created:
            _sync_directory(target.parent)
    except BaseException:
        os.close(fd)
        raise
    journal = Journal(
        target,
        fd,
        header=header if reading.header is None else None,
        complete=reading.torn_at,
    )
    return Opened(journal, reading)


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
