"""The one cattrs converter, and the only place wire naming rules live.

* A service declares which of its attrs classes are *wire models* with
  :func:`register_wire_models` and how their fields are spelled on the wire: ``camel``
  (``task_id`` ↔ ``taskId``, most SpeedPix bodies) or ``snake`` (as written: the SpeedPix submit
  body and every AI Portrait body). Single fields can be renamed (``Result`` with a capital R).
* Unknown response fields are ignored; enums built to tolerate unknown values (like
  :class:`~speedpix_async.TaskStatus`) keep them.
* Unset optional fields are omitted from request bodies rather than sent as ``null``.
* User types passed as ``output_type=`` are structured with their own field names.
"""

from __future__ import annotations

import enum
import math
import typing
from collections import abc
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    BaseValidationError,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import ResponseValidationError

__all__ = [
    "converter",
    "describe_error",
    "register_wire_models",
    "structure",
    "to_camel",
    "unstructure",
    "wire_name",
]

T = TypeVar("T")
WireCase = Literal["camel", "snake"]

converter = cattrs.Converter(detailed_validation=True)

#: Wire model → {field: wire name}; filled by :func:`register_wire_models`.
_WIRE_NAMES: dict[type, dict[str, str]] = {}


def to_camel(name: str) -> str:
    """``task_id`` → ``taskId``; ``estimated_duration_in_seconds`` →
    ``estimatedDurationInSeconds``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def register_wire_models(
    *classes: type, case: WireCase, renames: Mapping[str, str] | None = None
) -> None:
    """Declare attrs classes as wire models spelled ``case`` (``renames`` overrides single
    fields, by Python name)."""
    for cls in classes:
        names = {
            field.name: field.name if case == "snake" else to_camel(field.name)
            for field in attrs.fields(cls)
        }
        names.update({k: v for k, v in (renames or {}).items() if k in names})
        _WIRE_NAMES[cls] = names


def _is_wire_model(cls: Any) -> bool:
    return cls in _WIRE_NAMES


def _overrides(cls: type) -> dict[str, Any]:
    return {name: override(rename=wire) for name, wire in _WIRE_NAMES[cls].items()}


def _structure_factory(cls: type) -> Callable[[Any, Any], Any]:
    return make_dict_structure_fn(cls, converter, **_overrides(cls))


def _unstructure_factory(cls: type) -> Callable[[Any], Any]:
    return make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True, **_overrides(cls))


converter.register_structure_hook_factory(_is_wire_model, _structure_factory)
converter.register_unstructure_hook_factory(_is_wire_model, _unstructure_factory)


def _structure_str(value: Any, cls: Any) -> Any:
    # Registered for str, so cattrs also routes str-based enums here (TaskStatus).
    if _is_enum(cls):
        return _structure_enum(value, cls)
    # cattrs' default is str(value), which would quietly turn a dict or None into text.
    if isinstance(value, str):
        return str(value)
    # An integer id is still an id; a float or a bool is not text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _is_enum(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, enum.Enum)


def _structure_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    # The wire type must match the enum's: "20" is not the integer state 20, and an empty
    # string is no state at all.
    if issubclass(cls, str):
        if not isinstance(value, str) or not value:
            raise ValueError(f"expected a non-empty string, got {value!r}")
    elif issubclass(cls, int) and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"expected an integer, got {value!r}")
    return cls(value)


def _structure_int(value: Any, cls: Any) -> Any:
    # Registered for int, so cattrs also routes int-based enums here (CheckCode).
    if _is_enum(cls):
        return _structure_enum(value, cls)
    # cattrs' default is int(value): 7.9 would become 7 (another job's id), true 1, "5" 5.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 1.7e12 milliseconds written as a float are still an integer
    raise ValueError(f"expected an integer, got {value!r}")


def _structure_bool(value: Any, cls: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, got {value!r}")


def _structure_float(value: Any, cls: Any) -> float:
    # cattrs' default is float(value): "1.5" and true would pass, 10**400 overflow.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            return number
    raise ValueError(f"expected a finite number, got {value!r}")


converter.register_structure_hook(str, _structure_str)
converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook(float, _structure_float)
# After int: bool is an int subclass, and the most recent registration wins.
converter.register_structure_hook(bool, _structure_bool)
converter.register_structure_hook(enum.Enum, _structure_enum)

#: Collection types → what they are built as.
_COLLECTIONS: dict[Any, type] = {
    list: list,
    tuple: tuple,
    set: set,
    frozenset: frozenset,
    abc.Sequence: list,
    abc.MutableSequence: list,
    abc.Set: frozenset,
    abc.MutableSet: set,
}


def _item_type(tp: Any) -> Any:
    args = typing.get_args(tp)
    return args[0] if args else Any


def _is_collection(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    if origin not in _COLLECTIONS:
        return False
    args = typing.get_args(tp)
    # A tuple of fixed shape (tuple[int, str]) keeps cattrs' own handling.
    return origin is not tuple or not args or (len(args) == 2 and args[1] is Ellipsis)


def _collection_factory(tp: Any) -> Callable[[Any, Any], Any]:
    build = _COLLECTIONS[typing.get_origin(tp) or tp]
    item_type = _item_type(tp)

    def structure_collection(value: Any, _: Any) -> Any:
        # cattrs would iterate a string into its characters, or a dict into its keys.
        if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(
            value, (list, tuple)
        ):
            raise ValueError(f"expected a list, got {type(value).__name__}")
        items: list[Any] = []
        errors: list[Exception] = []
        for index, item in enumerate(value):
            try:
                items.append(converter.structure(item, item_type))
            except Exception as exc:  # collected, as cattrs does, to name every bad index
                note = IterableValidationNote(f"Structuring @ index {index}", index, item_type)
                noted: Any = exc  # __notes__ is typed only from Python 3.11 on
                noted.__notes__ = [*getattr(exc, "__notes__", []), note]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
        return build(items)

    return structure_collection


converter.register_structure_hook_factory(_is_collection, _collection_factory)


def wire_name(cls: type, field: str) -> str:
    """How ``cls.field`` is spelled in JSON."""
    return _WIRE_NAMES.get(cls, {}).get(field, field)


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
