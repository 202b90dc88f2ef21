"""What a ``run_many(..., journal=path)`` batch writes down so a re-run after a crash submits
nothing twice and loses no finished result.

One JSON line per event (docs/architecture.md, "Batches that survive a crash"):

* a header naming the workflow, version and shard, so a journal is never resumed by a different
  batch;
* ``{"i": 3, "submit": fingerprint}`` — durable *before* input 3's ``comfy_prompt`` is sent;
* ``{"i": 3, "task": "task-id"}`` — durable before the batch starts waiting on it;
* ``{"i": 3, "rejected": true}`` — the submit got a definite refusal (no task exists): the
  input counts as never submitted;
* ``{"i": 3, "end": {...}, "result": {...}}`` — the final snapshot and the raw
  ``comfy_get_result`` answer, durable before the result is handed to the caller.

On a re-run an input's last record decides: ended → its result is rebuilt from the journal (no
request); a task id → the task is waited on by id; a submit without a task id → the outcome is
unknown (the process died while the submit was on the wire), reported as
:class:`~speedpix_async.SubmitOutcomeUnknownError` unless the caller opted in to a re-submit;
nothing → it runs. A prediction that timed out or lost its connection while waiting is not
"ended": the re-run resumes it by id.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

import attrs

from .._converter import structure, unstructure
from .._core.journal import Opened
from .._core.storage import Storage
from .._errors import InputError, JournalDamagedError, SpeedPixError
from ..outputs import output_from_result
from .models import Prediction, TaskResult, TaskStatus

__all__ = ["FORMAT", "BatchJournal", "Entry", "Recorded", "fingerprint", "header", "replay"]

FORMAT = "speedpix_async.run_many/1"


@attrs.frozen
class Ended:
    """An ``end`` record, read and checked: the final snapshot (no output yet) and the raw
    result it was built from."""

    snapshot: Prediction
    result: TaskResult | None


@attrs.frozen
class Recorded:
    """What a journal holds from earlier runs, by what a re-run does with it."""

    finished: int
    """Inputs whose result is replayed (nothing is sent for them)."""
    running: int
    """Tasks waited on by id (not submitted again)."""
    unknown: int
    """Submits that may or may not have reached the server (reported, not sent again unless
    ``resubmit_unknown``)."""


@attrs.frozen
class Entry:
    """What the journal knows about one input."""

    fingerprint: str
    task_id: str | None = None
    end: Ended | None = None


def _canonical(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return {"path": os.fspath(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"sha256": hashlib.sha256(value).hexdigest()}
    # A file object or stream cannot be compared across runs; its type stands in for it.
    return {"object": type(value).__qualname__}


def fingerprint(item: Any) -> str:
    """A digest of one input, to notice an inputs file that changed between runs."""
    text = json.dumps(item, sort_keys=True, default=_canonical, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def header(workflow_id: str, identity: Mapping[str, Any]) -> dict[str, Any]:
    """The first line of a batch's journal: what makes two batches the same batch."""
    return {"journal": FORMAT, "workflow_id": workflow_id, **identity}


class _Damaged(Exception):
    """Internal: a record that is not what this module writes (the reason is the message)."""


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise _Damaged(f"{key!r} is not a non-empty string")
    return value


def _optional(end: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = end.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise _Damaged(f"end.{key} has the wrong type ({type(value).__name__})")
    return value


def _ended(record: Mapping[str, Any]) -> Ended:
    """An ``end`` record as the snapshot it describes; :class:`_Damaged` if it is not one."""
    end = record["end"]
    if not isinstance(end, dict):
        raise _Damaged("'end' is not an object")
    created = _optional(end, "created_at", str)
    try:
        created_at = _dt.datetime.fromisoformat(created) if created else None
    except ValueError:
        raise _Damaged("end.created_at is not a date") from None
    status = TaskStatus(_text(end, "status"))
    estimate = _optional(end, "estimated_duration", (int, float))
    snapshot = Prediction(
        id=_text(end, "id"),
        status=status,
        workflow_id=_optional(end, "workflow_id", str),
        alias_id=_optional(end, "alias_id", str),
        version_id=_optional(end, "version_id", str),
        estimated_duration=estimate,
        error=_optional(end, "error", str),
        error_code=_optional(end, "error_code", str),
        api_invoke_id=_optional(end, "api_invoke_id", str),
        created_at=created_at,
    )
    raw = record.get("result")
    if raw is None:
        return Ended(snapshot, None)
    try:
        result = structure(raw, TaskResult, what="the journaled result")
    except SpeedPixError as exc:
        raise _Damaged(str(exc)) from None
    return Ended(snapshot, result)


class BatchJournal:
    """The journal of one batch: what earlier runs recorded, and the records of this one.

    Built from an opened journal whose header was not yet checked: a journal of another batch
    is refused here, and every record is checked (:class:`~speedpix_async.JournalDamagedError`
    names the first bad line) before this batch sends or writes anything."""

    def __init__(self, opened: Opened, expected: Mapping[str, Any]) -> None:
        journal = opened.journal
        if opened.header is not None and opened.header != expected:
            raise InputError(
                f"the journal {str(journal.path)!r} belongs to another batch "
                f"({_describe(opened.header)}), not this one ({_describe(expected)}); it was "
                "left untouched — give a new journal path, or run the batch it was written for"
            )
        self._journal = journal
        self._entries: dict[int, Entry] = {}
        self._owned: set[str] = set()
        for number, record in opened.records:
            try:
                self._apply(record)
            except (_Damaged, KeyError, ValueError, TypeError) as exc:
                raise JournalDamagedError(
                    f"the journal {str(journal.path)!r} is damaged at line {number}: "
                    f"{_reason(exc)} (edited, or damaged on disk). Nothing was sent or changed; "
                    "restore the file, or delete that line (the input is then resumed by its "
                    "task id if an earlier line names one, else submitted again)",
                    path=str(journal.path),
                    line=number,
                ) from None

    @property
    def path(self) -> str:
        return str(self._journal.path)

    def entry(self, index: int) -> Entry | None:
        return self._entries.get(index)

    def _apply(self, record: Mapping[str, Any]) -> None:
        if "results" in record:
            self._owned.add(_text(record, "results"))
            return
        index = record.get("i")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise _Damaged("no input index 'i'")
        known = self._entries.get(index)
        if "submit" in record:
            self._entries[index] = Entry(fingerprint=_text(record, "submit"))
        elif "rejected" in record:
            self._entries.pop(index, None)
        elif known is None:
            raise _Damaged(f"a record for input {index} before its submit record")
        elif "task" in record:
            self._entries[index] = attrs.evolve(known, task_id=_text(record, "task"))
        elif "end" in record:
            self._entries[index] = attrs.evolve(known, end=_ended(record))
        else:
            raise _Damaged("not a record this SDK writes")

    async def _append(self, record: dict[str, Any]) -> None:
        await self._journal.append(record)
        self._apply(record)

    async def submitting(self, index: int, digest: str) -> None:
        """Input ``index``'s submit is about to go out."""
        await self._append({"i": index, "submit": digest})

    async def submitted(self, index: int, digest: str, task_id: str) -> None:
        """Input ``index`` became task ``task_id``. (Its submit record is normally written by
        :meth:`submitting` as the request goes out; should an HTTP stack not have reported
        that moment, it is written now, so the task is never orphaned.)"""
        if index not in self._entries:
            await self._append({"i": index, "submit": digest})
        await self._append({"i": index, "task": task_id})

    async def rejected(self, index: int) -> None:
        """Input ``index``'s submit failed with a definite answer: no task exists for it."""
        if index in self._entries:
            await self._append({"i": index, "rejected": True})

    async def ended(self, index: int, final: Prediction) -> None:
        """Input ``index``'s task reached a final state."""
        end = {
            "id": final.id,
            "status": final.status.value,
            "workflow_id": final.workflow_id,
            "alias_id": final.alias_id,
            "version_id": final.version_id,
            "estimated_duration": final.estimated_duration,
            "error": final.error,
            "error_code": final.error_code,
            "api_invoke_id": final.api_invoke_id,
            "created_at": final.created_at.isoformat() if final.created_at else None,
        }
        result = unstructure(final.result) if final.result is not None else None
        await self._append({"i": index, "end": end, "result": result})

    def summary(self) -> Recorded:
        """What earlier runs recorded: finished inputs, tasks to wait on by id, and submits
        whose outcome is unknown."""
        entries = self._entries.values()
        return Recorded(
            finished=sum(e.end is not None for e in entries),
            running=sum(e.end is None and e.task_id is not None for e in entries),
            unknown=sum(e.end is None and e.task_id is None for e in entries),
        )

    def owns(self, path: str | os.PathLike[str]) -> bool:
        """Whether this batch created the file at ``path`` (see :meth:`own`)."""
        return _absolute(path) in self._owned

    async def own(self, path: str | os.PathLike[str]) -> None:
        """Record that this batch created the file at ``path`` (a results file), so a re-run
        may replace it — and never replaces a file it did not create."""
        if not self.owns(path):
            await self._append({"results": _absolute(path)})

    def close(self) -> None:
        self._journal.close()


def replay(entry: Entry, storage: Storage | None) -> Prediction:
    """The final snapshot an ended entry recorded, its output converted as a fresh result's
    would be (file URLs bound to ``storage``)."""
    assert entry.end is not None
    snapshot, result = entry.end.snapshot, entry.end.result
    if result is None:
        return snapshot
    succeeded = snapshot.status == TaskStatus.SUCCEEDED
    output = output_from_result(result, storage) if succeeded else None
    # The recorded status stands (with_result takes the result's, which may be older).
    return attrs.evolve(snapshot.with_result(result, output, None), status=snapshot.status)


def _absolute(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(path)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]!r} field"
    return str(exc) or type(exc).__name__


def _describe(found: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {value!r}" for key, value in found.items() if key != "journal")
