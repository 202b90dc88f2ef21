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
from .._core.journal import Journal
from .._core.storage import Storage
from .._errors import InputError
from ..models import Prediction, TaskResult, TaskStatus
from ..outputs import output_from_result

__all__ = ["FORMAT", "BatchJournal", "Entry", "fingerprint", "replay"]

FORMAT = "speedpix_async.run_many/1"


@attrs.frozen
class Entry:
    """What the journal knows about one input."""

    fingerprint: str
    task_id: str | None = None
    end: Mapping[str, Any] | None = None


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


def _header(workflow_id: str, identity: Mapping[str, Any]) -> dict[str, Any]:
    return {"journal": FORMAT, "workflow_id": workflow_id, **identity}


class BatchJournal:
    """The journal of one batch: what earlier runs recorded, and the records of this one."""

    def __init__(
        self,
        journal: Journal,
        records: list[dict[str, Any]],
        workflow_id: str,
        identity: Mapping[str, Any],
    ) -> None:
        self._journal = journal
        expected = _header(workflow_id, identity)
        if records and records[0] != expected:
            found = records[0]
            raise InputError(
                f"the journal {str(journal.path)!r} belongs to another batch "
                f"({_describe(found)}), not this one ({_describe(expected)}); give a new journal "
                "path, or run the batch it was written for"
            )
        self._entries: dict[int, Entry] = {}
        for record in records[1:]:
            self._apply(record)
        self._needs_header = not records
        self._expected = expected

    @property
    def path(self) -> str:
        return str(self._journal.path)

    def entry(self, index: int) -> Entry | None:
        return self._entries.get(index)

    def _apply(self, record: Mapping[str, Any]) -> None:
        index = record.get("i")
        if not isinstance(index, int):
            return
        known = self._entries.get(index)
        if "submit" in record:
            self._entries[index] = Entry(fingerprint=str(record["submit"]))
        elif "rejected" in record:
            self._entries.pop(index, None)
        elif known is not None and "task" in record:
            self._entries[index] = attrs.evolve(known, task_id=str(record["task"]))
        elif known is not None and isinstance(record.get("end"), dict):
            self._entries[index] = attrs.evolve(known, end=record)

    async def _append(self, record: dict[str, Any]) -> None:
        if self._needs_header:
            self._needs_header = False
            await self._journal.append(self._expected)
        await self._journal.append(record)
        self._apply(record)

    async def submitting(self, index: int, digest: str) -> None:
        """Input ``index`` is about to be submitted."""
        await self._append({"i": index, "submit": digest})

    async def submitted(self, index: int, task_id: str) -> None:
        """Input ``index`` became task ``task_id``."""
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

    def close(self) -> None:
        self._journal.close()


def replay(entry: Entry, storage: Storage | None) -> Prediction:
    """The final snapshot an ended entry recorded, its output converted as a fresh result's
    would be (file URLs bound to ``storage``)."""
    assert entry.end is not None
    end = entry.end["end"]
    created = end.get("created_at")
    status = TaskStatus(end["status"])
    snapshot = Prediction(
        id=end["id"],
        status=status,
        workflow_id=end.get("workflow_id"),
        alias_id=end.get("alias_id"),
        version_id=end.get("version_id"),
        estimated_duration=end.get("estimated_duration"),
        created_at=_dt.datetime.fromisoformat(created) if created else None,
    )
    raw = entry.end.get("result")
    if raw is not None:
        result = structure(raw, TaskResult, what="a journaled result")
        output = output_from_result(result, storage) if status == TaskStatus.SUCCEEDED else None
        snapshot = snapshot.with_result(result, output, None)
    return attrs.evolve(
        snapshot,
        status=status,
        error=end.get("error"),
        error_code=end.get("error_code"),
        api_invoke_id=end.get("api_invoke_id"),
    )


def _describe(header: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {value!r}" for key, value in header.items() if key != "journal")
