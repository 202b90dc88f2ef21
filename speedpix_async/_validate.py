"""Argument checks shared by the resources: fail before anything is sent, naming the fix."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from ._errors import InputError, SpeedPixError

__all__ = [
    "MIN_POLL_INTERVAL",
    "check_bool",
    "check_callable",
    "check_identifier",
    "check_interval",
    "check_seconds",
    "check_task_id",
]

#: The shortest wait between two polls of one task or job that a caller may ask for. A task's
#: state changes a few times a second at most; polling faster only loads the server (and, on
#: loopback, spins the client at hundreds of requests a second).
MIN_POLL_INTERVAL = 0.05


def header_problem(value: str) -> str | None:
    """Why ``value`` cannot be an HTTP header value (RFC 9110: visible ASCII, spaces inside),
    or None when it can. Checked where values enter, so the HTTP library never refuses one
    mid-call."""
    if value != value.strip(" \t"):
        return "it has leading or trailing whitespace"
    for ch in value:
        if not " " <= ch <= "~":
            kind = "a control character" if ord(ch) < 0x20 or ord(ch) == 0x7F else "non-ASCII"
            return f"it contains {kind} ({ch!r}); only visible ASCII can go in an HTTP header"
    return None


def check_header_value(name: str, value: str) -> str:
    """``value`` if it can be sent as an HTTP header value, else :class:`InputError`."""
    problem = header_problem(value)
    if problem is not None:
        raise InputError(f"{name} {value[:80]!r} cannot be sent: {problem}")
    return value


def check_identifier(name: str, value: Any, *, allow_none: bool = False) -> str | None:
    """A workflow/alias/version id: a non-empty string without surrounding whitespace."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        raise InputError(f"{name} must be a non-empty string, got {value!r}")
    if value != value.strip() or any(ch in value for ch in "\r\n\t"):
        raise InputError(f"{name} {value!r} contains whitespace; copy it again from the console")
    return value


def check_task_id(value: Any) -> str:
    """A task id as returned by ``comfy_prompt``."""
    checked = check_identifier("task_id", value)
    assert checked is not None
    return checked


def check_seconds(name: str, value: Any, *, allow_none: bool = True) -> float | None:
    """A positive, finite number of seconds."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(
            f"{name} must be a number of seconds, got {type(value).__name__} {value!r}"
        )
    number = float(value)
    if math.isnan(number) or math.isinf(number) or number <= 0:
        raise InputError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return number


def check_interval(name: str, value: Any) -> float | None:
    """A polling interval: :func:`check_seconds`, and at least :data:`MIN_POLL_INTERVAL`."""
    number = check_seconds(name, value)
    if number is not None and number < MIN_POLL_INTERVAL:
        raise InputError(
            f"{name} must be at least {MIN_POLL_INTERVAL} s, got {value!r}; polling faster "
            "only loads the server — leave it unset to poll at the server's estimated end"
        )
    return number


def check_bool(name: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InputError(f"{name} must be True, False or None, got {value!r}")


def check_callable(name: str, value: Any, *, takes: str = "Progress") -> Any:
    if value is not None and not callable(value):
        raise InputError(f"{name} must be a function taking one {takes}, got {value!r}")
    return value


def check_keywords(
    options: Mapping[str, Any],
    keywords: Any,
    call: str,
    error: type[SpeedPixError] = InputError,
) -> None:
    """Refuse an option ``call`` does not take (``keywords``: the ``TypedDict`` of those it
    does), naming the closest one it does."""
    allowed = keywords.__optional_keys__ | keywords.__required_keys__
    for name in options:
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise error(
                f"{call} takes no option {name!r}{hint} (its options: {', '.join(sorted(allowed))})"
            )
