"""Request and response bodies that users never see (PROTOCOL A.4).

Field names are snake_case; :mod:`speedpix_async._converter` maps them to the wire spelling.
"""

from __future__ import annotations

from typing import Any, Optional

import attrs

from .models import TaskStatus

__all__ = [
    "PromptRequest",
    "PromptResponse",
    "TaskRequest",
    "UploadSignRequest",
    "UploadSignResponse",
]


@attrs.frozen(kw_only=True)
class PromptRequest:
    """``POST /scc/comfy_prompt`` body (snake_case on the wire)."""

    workflow_id: str
    inputs: dict[str, Any]
    alias_id: Optional[str] = None
    version_id: Optional[str] = None
    randomise_seeds: Optional[bool] = None
    return_temp_files: Optional[bool] = None


@attrs.frozen(kw_only=True)
class PromptResponse:
    task_id: str
    status: TaskStatus = TaskStatus.WAITING
    estimated_duration_in_seconds: Optional[float] = None


@attrs.frozen(kw_only=True)
class TaskRequest:
    """Body of ``comfy_get_progress`` and ``comfy_get_result``."""

    task_id: str


@attrs.frozen(kw_only=True)
class UploadSignRequest:
    content_type: str
    original_filename: str
    size: Optional[int] = None


@attrs.frozen(kw_only=True)
class UploadSignResponse:
    upload_url: str = attrs.field(repr=False)
    object_key: str
    path: str
    expire_time: Optional[int] = None
    access_url: Optional[str] = None
