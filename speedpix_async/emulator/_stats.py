"""Counters behind ``GET /_emulator/stats``: what benchmarks and chaos tests measure."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

__all__ = ["Stats"]


class Stats:
    """Thread-safe counters (the loopback server runs in its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.tasks_by_workflow: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.fault_phases: Counter[str] = Counter()
            self.auth_rejections: Counter[str] = Counter()
            self.bytes_uploaded = 0
            self.bytes_downloaded = 0
            self.uploads = 0
            self.uploads_in_flight = 0
            self.max_concurrent_uploads = 0
            self._submission_keys: set[str] = set()
            self._peers: set[Any] = set()
            self.portrait_jobs = 0
            self.portraits = 0

    def request(self, route: str, peer: Any = None) -> None:
        """Count a request; ``peer`` (the client's address and port) tells connections apart."""
        with self._lock:
            self.requests[route] += 1
            if peer is not None:
                self._peers.add(tuple(peer))

    def task_created(self, workflow_id: str, inputs: Any) -> None:
        # Identical submissions are counted once here, so "tasks_created - distinct_submissions"
        # is the number of duplicated tasks when every intended submission is distinct.
        key = workflow_id + "\0" + json.dumps(inputs, sort_keys=True, default=str)
        with self._lock:
            self.tasks_by_workflow[workflow_id] += 1
            self._submission_keys.add(key)

    def portrait_job_created(self) -> None:
        with self._lock:
            self.portrait_jobs += 1

    def portrait_created(self) -> None:
        with self._lock:
            self.portraits += 1

    def fault(self, kind: str, phase: str | None = None) -> None:
        with self._lock:
            self.faults[kind] += 1
            if phase:
                self.fault_phases[f"{kind}:{phase}"] += 1

    def auth_rejected(self, reason: str) -> None:
        with self._lock:
            self.auth_rejections[reason] += 1

    def upload_started(self) -> None:
        with self._lock:
            self.uploads_in_flight += 1
            self.max_concurrent_uploads = max(self.max_concurrent_uploads, self.uploads_in_flight)

    def upload_ended(self) -> None:
        with self._lock:
            self.uploads_in_flight -= 1

    def uploaded(self, size: int) -> None:
        with self._lock:
            self.bytes_uploaded += size
            self.uploads += 1

    def downloaded(self, size: int) -> None:
        with self._lock:
            self.bytes_downloaded += size

    @property
    def tasks_created(self) -> int:
        with self._lock:
            return sum(self.tasks_by_workflow.values())

    def snapshot(self) -> dict[str, Any]:
        """The JSON document served at ``/_emulator/stats``."""
        with self._lock:
            return {
                "tasks_created": {
                    "total": sum(self.tasks_by_workflow.values()),
                    "by_workflow": dict(self.tasks_by_workflow),
                },
                "distinct_submissions": len(self._submission_keys),
                # Distinct client address:port pairs, i.e. connections opened since the reset.
                "client_connections": len(self._peers),
                "requests": {"total": sum(self.requests.values()), "by_route": dict(self.requests)},
                "faults_injected": {
                    "total": sum(self.faults.values()),
                    "by_kind": dict(self.faults),
                    "by_kind_and_phase": dict(self.fault_phases),
                },
                "auth_rejections": {
                    "total": sum(self.auth_rejections.values()),
                    "by_reason": dict(self.auth_rejections),
                },
                "bytes_uploaded": self.bytes_uploaded,
                "uploads": self.uploads,
                "max_concurrent_uploads": self.max_concurrent_uploads,
                "bytes_downloaded": self.bytes_downloaded,
                "portrait": {
                    "jobs_created": self.portrait_jobs,
                    "portraits_created": self.portraits,
                },
            }
