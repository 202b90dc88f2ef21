"""Turning a user's ``input`` into the ``inputs`` object of ``comfy_prompt``.

The walk happens before anything is sent, so a bad value fails with an :class:`InputError` that
names its place (``input["params"][2]``) and no request is made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ._errors import InputError

__all__ = ["format_path", "prepare_inputs"]


def format_path(path: tuple[str | int, ...]) -> str:
    """``("params", 2)`` → ``input["params"][2]``."""
    return "input" + "".join(
        f"[{part!r}]" if isinstance(part, int) else f'["{part}"]' for part in path
    )


def _walk(value: Any, path: tuple[str | int, ...]) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise InputError(
                f"{format_path(path)} is {value}, which JSON cannot carry; send a finite number"
            )
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(
                    f"{format_path(path)} has a key {key!r} of type {type(key).__name__}; "
                    "JSON object keys must be strings"
                )
            out[key] = _walk(item, (*path, key))
        return out
    if isinstance(value, (list, tuple)):
        return [_walk(item, (*path, index)) for index, item in enumerate(value)]
    raise InputError(
        f"{format_path(path)} is a {type(value).__name__}, which cannot be sent as JSON; use str, "
        "int, float, bool, None, lists or dicts"
    )


async def prepare_inputs(inputs: Any) -> dict[str, Any]:
    """Validate ``inputs`` and return the JSON-ready object to send."""
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise InputError(
            f"input must be a dict mapping the workflow's input field names to values, got "
            f"{type(inputs).__name__}"
        )
    prepared = _walk(inputs, ())
    assert isinstance(prepared, dict)
    return prepared
