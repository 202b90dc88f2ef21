"""Request and response bodies users never see (docs/protocol.md, "SpeedPix endpoints").

Field names are snake_case in Python; how each is spelled on the wire is declared at the bottom
with :func:`~speedpix_async._converter.register_wire_models` — camelCase everywhere except the
``comfy_prompt`` body, which the API spells in snake_case.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._converter import register_wire_models
from ..models import Progress, TaskResult, TaskStatus

__all__ = [
    "PromptRequest",
    "PromptResponse",
    "TaskRequest",
    "UploadSignRequest",
    "UploadSignResponse",
]


@attrs.frozen(kw_only=True)
class PromptRequest:
    """``POST /scc/comfy_prompt`` body."""

    workflow_id: str
    inputs: dict[str, Any]
    alias_id: str | None = None
    version_id: str | None = None
    randomise_seeds: bool | None = None
    return_temp_files: bool | None = None


@attrs.frozen(kw_only=True)
class PromptResponse:
    task_id: str
    status: TaskStatus = TaskStatus.WAITING
    estimated_duration_in_seconds: float | None = None


@attrs.frozen(kw_only=True)
class TaskRequest:
    """Body of ``comfy_get_progress`` and ``comfy_get_result``."""

    task_id: str


@attrs.frozen(kw_only=True)
class UploadSignRequest:
    content_type: str
    original_filename: str
    size: int | None = None


@attrs.frozen(kw_only=True)
class UploadSignResponse:
    upload_url: str = attrs.field(repr=False)
    object_key: str
    path: str
    expire_time: int | None = None
    access_url: str | None = None


register_wire_models(PromptRequest, case="snake")
register_wire_models(
    PromptResponse,
    TaskRequest,
    UploadSignRequest,
    UploadSignResponse,
    Progress,
    TaskResult,
    case="camel",
)
