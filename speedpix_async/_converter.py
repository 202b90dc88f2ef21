"""The one cattrs converter, and the only place wire naming rules live.

* Our wire models (classes in :mod:`speedpix_async.models` and :mod:`speedpix_async._wire`) are
  camelCase on the wire, except the ``comfy_prompt`` body, which the API spells in snake_case
  (PROTOCOL A.1) and is listed in ``_SNAKE_CASE_MODELS``.
* Unknown response fields are ignored; unknown task states are kept (:class:`TaskStatus`).
* Unset optional fields are omitted from request bodies rather than sent as ``null``.
* User types passed as ``output_type=`` are structured with their own field names.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import attrs
import cattrs
from cattrs.errors import BaseValidationError, ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import ResponseValidationError
from ._wire import PromptRequest
from .models import TaskStatus

__all__ = [
    "converter",
    "describe_error",
    "structure",
    "to_camel",
    "unstructure",
    "wire_name",
]

_WIRE_MODULES = frozenset({"speedpix_async.models", "speedpix_async._wire"})
_SNAKE_CASE_MODELS: frozenset[type] = frozenset({PromptRequest})

T = TypeVar("T")

converter = cattrs.Converter(detailed_validation=True)


def to_camel(name: str) -> str:
    """``task_id`` → ``taskId``; ``estimated_duration_in_seconds`` →
    ``estimatedDurationInSeconds``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _is_wire_model(cls: Any) -> bool:
    return isinstance(cls, type) and attrs.has(cls) and cls.__module__ in _WIRE_MODULES


def _renames(cls: type) -> dict[str, Any]:
    if cls in _SNAKE_CASE_MODELS:
        return {}
    return {a.name: override(rename=to_camel(a.name)) for a in attrs.fields(cls)}


def _structure_factory(cls: type) -> Callable[[Any, Any], Any]:
    return make_dict_structure_fn(cls, converter, **_renames(cls))


def _unstructure_factory(cls: type) -> Callable[[Any], Any]:
    return make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True, **_renames(cls))


def _structure_status(value: Any, _: Any) -> TaskStatus:
    if not isinstance(value, str) or not value:
        raise ValueError(f"task status must be a non-empty string, got {value!r}")
    return TaskStatus(value)


converter.register_structure_hook_factory(_is_wire_model, _structure_factory)
converter.register_unstructure_hook_factory(_is_wire_model, _unstructure_factory)


def _structure_str(value: Any, _: Any) -> str:
    # cattrs' default is str(value), which would quietly turn a dict or None into text.
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


converter.register_structure_hook(TaskStatus, _structure_status)
converter.register_structure_hook(str, _structure_str)


def wire_name(cls: type, field: str) -> str:
    """How ``cls.field`` is spelled in JSON."""
    if _is_wire_model(cls) and cls not in _SNAKE_CASE_MODELS:
        return to_camel(field)
    return field


def _type_name(tp: Any) -> str:
    name = getattr(tp, "__name__", None)
    return (
        name if isinstance(name, str) and "[" not in repr(tp) else repr(tp).replace("typing.", "")
    )


def _leaf(exc: BaseException, expected: Any, path: str) -> str:
    if isinstance(exc, KeyError):
        return f"required field missing @ {path}"
    return f"expected {_type_name(expected)} ({exc}) @ {path}"


def describe_error(exc: BaseException, path: str) -> list[str]:
    """One line per problem, each ending in the JSON path of the offending value.

    cattrs' own ``transform_error`` reports Python attribute names; this reports the names as
    they appear in the JSON, which is what a user compares against the response.
    """
    if isinstance(exc, ClassValidationError):
        with_notes, others = exc.group_exceptions()
        lines: list[str] = []
        for inner, note in with_notes:
            sub = f"{path}.{wire_name(exc.cl, note.name)}"
            if isinstance(inner, BaseValidationError):
                lines.extend(describe_error(inner, sub))
            else:
                lines.append(_leaf(inner, note.type, sub))
        lines.extend(f"{other} @ {path}" for other in others)
        return lines
    if isinstance(exc, IterableValidationError):
        with_index, others = exc.group_exceptions()
        lines = []
        for inner, inote in with_index:
            sub = f"{path}[{inote.index!r}]"
            if isinstance(inner, BaseValidationError):
                lines.extend(describe_error(inner, sub))
            else:
                lines.append(_leaf(inner, inote.type, sub))
        lines.extend(f"{other} @ {path}" for other in others)
        return lines
    if isinstance(exc, BaseValidationError):
        return [line for inner in exc.exceptions for line in describe_error(inner, path)]
    return [f"{exc} @ {path}"]


def structure(data: Any, cls: type[T], *, what: str, path: str = "$") -> T:
    """Structure ``data`` into ``cls`` or raise :class:`ResponseValidationError` naming each bad
    field by its JSON path (e.g. ``$.data.taskId``)."""
    try:
        return converter.structure(data, cls)
    except (BaseValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
        problems = describe_error(exc, path)
        raise ResponseValidationError(
            f"{what} does not have the expected shape: " + "; ".join(problems)
        ) from exc


def unstructure(obj: Any) -> Any:
    """A wire model as plain JSON-ready data."""
    return converter.unstructure(obj)
