"""The options of a run, written once and validated once.

The keywords ``run``, ``run_many``, ``predictions.create`` and the module-level ``run`` share
are declared here once, as :class:`SubmitKeywords` / :class:`RunKeywords` (``**options:
Unpack[RunKeywords]`` in their signatures, which type checkers and IDEs read key by key). Each
call turns them into these frozen values straight away, and every later step reads the values.
A bad or unknown option raises :class:`~speedpix_async.InputError` here, before anything is
sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypedDict

import attrs

from .._core.handles import WaitOptions
from .._errors import InputError
from .._validate import check_bool, check_header_value, check_identifier, check_keywords
from .models import Progress

__all__ = [
    "FileEncodingStrategy",
    "ProgressCallback",
    "RunKeywords",
    "RunOptions",
    "SubmitKeywords",
    "SubmitOptions",
]

FileEncodingStrategy = Literal["url", "base64"]
"""How local files in ``input`` reach the service: uploaded (``"url"``) or inlined as ``data:``
URIs (``"base64"``, 1 MiB at most)."""
ProgressCallback = Callable[[Progress], Awaitable[None] | None]
"""``on_progress``: a plain or async function taking one :class:`~speedpix_async.Progress`."""

_STRATEGIES = ("url", "base64")
#: The alias the guides use when neither an alias nor a version is chosen.
DEFAULT_ALIAS = "main"


class SubmitKeywords(TypedDict, total=False):
    """What a submit may be told (``predictions.create``, and every ``run``)."""

    alias_id: str | None
    """The workflow alias to run (``"main"`` when neither an alias nor a version is given)."""
    version_id: str | None
    """A workflow version instead of an alias (not both: the service's precedence is
    undocumented)."""
    randomise_seeds: bool | None
    return_temp_files: bool | None
    resource_config_id: str | None
    """Dedicated resources (``X-SP-RESOURCE-CONFIG-ID``, e.g. ``"pool-a,pool-b,default"``);
    omitted, the shared pool."""
    file_encoding_strategy: FileEncodingStrategy
    """``"url"`` (upload local files, the default) or ``"base64"`` (inline up to 1 MiB)."""


class RunKeywords(SubmitKeywords, total=False):
    """What a run may be told besides its submit: how long, and what to report."""

    timeout: float | None
    """Seconds the whole call may take (default 30 minutes)."""
    on_progress: ProgressCallback | None
    """Called (plain or async) with each progress report."""
    polling_interval: float | None
    """A fixed interval instead of following the server's estimates."""


@attrs.frozen(kw_only=True)
class SubmitOptions:
    """What ``comfy_prompt`` is asked to run, and how input files travel."""

    alias_id: str | None = None
    version_id: str | None = None
    randomise_seeds: bool | None = None
    return_temp_files: bool | None = None
    resource_config_id: str | None = None
    file_encoding_strategy: FileEncodingStrategy = "url"

    @classmethod
    def of(
        cls,
        *,
        alias_id: str | None = None,
        version_id: str | None = None,
        randomise_seeds: bool | None = None,
        return_temp_files: bool | None = None,
        resource_config_id: str | None = None,
        file_encoding_strategy: str = "url",
    ) -> SubmitOptions:
        """Validated options; ``alias_id`` becomes ``"main"`` when neither an alias nor a
        version is given."""
        check_identifier("alias_id", alias_id, allow_none=True)
        check_identifier("version_id", version_id, allow_none=True)
        if alias_id is not None and version_id is not None:
            raise InputError(
                "pass either alias_id or version_id, not both (the service does not document "
                "which one wins)"
            )
        check_bool("randomise_seeds", randomise_seeds)
        check_bool("return_temp_files", return_temp_files)
        if resource_config_id is not None:
            check_identifier("resource_config_id", resource_config_id)
            check_header_value("resource_config_id", resource_config_id)
            if " " in resource_config_id:
                raise InputError(
                    "resource_config_id is a comma-separated list of ids without spaces, e.g. "
                    f"'pool-a,default'; got {resource_config_id!r}"
                )
        if file_encoding_strategy not in _STRATEGIES:
            raise InputError(
                f"file_encoding_strategy must be 'url' or 'base64', got {file_encoding_strategy!r}"
            )
        strategy: FileEncodingStrategy = "base64" if file_encoding_strategy == "base64" else "url"
        return cls(
            alias_id=DEFAULT_ALIAS if alias_id is None and version_id is None else alias_id,
            version_id=version_id,
            randomise_seeds=randomise_seeds,
            return_temp_files=return_temp_files,
            resource_config_id=resource_config_id,
            file_encoding_strategy=strategy,
        )


@attrs.frozen(kw_only=True)
class RunOptions:
    """Everything one ``run`` needs besides the workflow and its input."""

    submit: SubmitOptions
    wait: WaitOptions[Progress]
    output_type: Any = None
    """An attrs class, dataclass or other type to structure the output into (None: as is)."""

    @classmethod
    def of(cls, options: Mapping[str, Any], *, output_type: Any = None, call: str) -> RunOptions:
        """Validated options of a run (``options``: its :class:`RunKeywords`; ``call`` names
        it in errors)."""
        check_keywords(options, RunKeywords, call)
        waiting = ("timeout", "on_progress", "polling_interval")
        wait = {key: value for key, value in options.items() if key in waiting}
        submit = {key: value for key, value in options.items() if key not in waiting}
        return cls(
            submit=SubmitOptions.of(**submit),
            wait=WaitOptions[Progress].of(**wait),
            output_type=output_type,
        )


def submit_options(options: Mapping[str, Any], *, call: str) -> SubmitOptions:
    """Validated options of a submit (``options``: its :class:`SubmitKeywords`)."""
    check_keywords(options, SubmitKeywords, call)
    return SubmitOptions.of(**options)
