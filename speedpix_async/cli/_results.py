"""The results file of ``speedpix batch`` (``--out``), written so that no refusal and no crash
ever leaves a truncated or half-written file, and no file the batch did not create is replaced.

* It is opened only after the batch's journal is open, locked and checked (a refused batch, or
  a second batch started on the same journal, has touched nothing).
* Lines go to a temporary ``.<name>.<random>.part`` beside it; the finished file is renamed
  into place, so the file at ``--out`` is always a complete result of some run.
* A name is replaced only when the journal records that this batch created it. Any other
  existing file is left alone and the results get a numbered name (``results-1.jsonl``), which
  the journal then records as the batch's own.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio.to_thread

from .._errors import InputError
from ..outputs import create_partial, leftover_partials
from ..speedpix.journal import BatchJournal

__all__ = ["ResultsFile", "check_paths"]

#: How many numbered names are tried before giving up (``results-1.jsonl`` … ``-99``).
_MAX_NUMBER = 99


def _same(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve() or (
            one.exists() and other.exists() and os.path.samefile(one, other)
        )
    except OSError:
        return False


def check_paths(inputs: Path, out: Path, journal: Path) -> None:
    """Refuse ``--out`` / ``--journal`` choices that would overwrite the batch's own files."""
    if _same(out, inputs):
        raise InputError(
            f"--out {str(out)!r} is the inputs file; results would replace the inputs — give "
            "another file name (for example results.jsonl)"
        )
    if _same(journal, inputs):
        raise InputError(
            f"--journal {str(journal)!r} is the inputs file; give the journal its own file name"
        )
    if _same(journal, out):
        raise InputError(
            f"--journal and --out are the same file ({str(out)!r}); give each its own name"
        )
    if out.is_dir():
        raise InputError(f"--out {str(out)!r} is a directory; give a file name")
    if not out.parent.is_dir():
        raise InputError(f"--out {str(out)!r}: the folder {str(out.parent)!r} does not exist")


def _numbered(wanted: Path, number: int) -> Path:
    return wanted.with_name(f"{wanted.stem}-{number}{wanted.suffix}")


def choose_target(wanted: Path, journal: BatchJournal) -> Path:
    """``wanted``, unless a file is there that this batch did not create: then the first
    numbered name that is free or the batch's own."""
    for number in range(_MAX_NUMBER + 1):
        candidate = wanted if number == 0 else _numbered(wanted, number)
        if journal.owns(candidate) or not os.path.lexists(candidate):
            return candidate
    raise InputError(
        f"{str(wanted)!r} and {_MAX_NUMBER} numbered names beside it exist and were not written "
        "by this batch; give --out a new file name"
    )


class ResultsFile:
    """One run's results, renamed into place when the run ends (see the module docstring)."""

    def __init__(self, target: Path, temp: Path, wanted: Path) -> None:
        self.target = target
        """Where the results go: ``--out``, or a numbered name beside it."""
        self.renamed = target != wanted
        """Whether ``--out`` names a file this batch did not create (so it was left alone)."""
        self._temp = temp
        self._file = temp.open("w", encoding="utf-8")
        self.lines = 0

    @classmethod
    async def open(cls, wanted: Path, journal: BatchJournal) -> ResultsFile:
        """Claim the target (recorded in ``journal``) and start its temporary file. The
        journal must be open: its lock keeps another process off these files."""
        target = choose_target(wanted, journal)
        await journal.own(target)
        for leftover in leftover_partials(target.parent, target.name):
            leftover.unlink(missing_ok=True)  # a killed run's; the journal holds its results
        temp = await anyio.to_thread.run_sync(create_partial, target)
        return cls(target, temp, wanted)

    def write(self, line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()
        self.lines += 1

    def commit(self) -> None:
        """Put the finished file in place (durably), replacing an earlier run's."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temp, self.target)

    def abandon(self) -> bool:
        """An interrupted run: keep its lines if nothing is at the target yet (a first run),
        else keep the complete file an earlier run wrote (the journal holds everything; a
        re-run writes it all). Returns whether this run's lines were kept."""
        if not os.path.lexists(self.target):
            self.commit()
            return True
        self._file.close()
        self._temp.unlink(missing_ok=True)
        return False
