"""Workflow outputs: what ``run()`` returns."""

from __future__ import annotations

from typing import Any

from .models import TaskResult

__all__ = ["convert_output"]


def convert_output(result: TaskResult) -> Any:
    """The output of a succeeded task: its custom output fields (``result``), or, for a workflow
    published without custom outputs, ``{"images": [...]}`` from the default image list."""
    if result.result is not None:
        return result.result
    return {"images": list(result.images)}
