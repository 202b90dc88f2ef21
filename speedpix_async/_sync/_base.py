"""Bases of the generated blocking classes (hand-written, tiny, no behaviour of their own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from typing_extensions import Self

from .._converter import converter
from .._errors import InputError
from ..outputs import FileOutput, file_output
from ._runner import Runner

__all__ = ["SyncFileBase", "SyncWrapper"]

S = TypeVar("S", bound="SyncFileBase")


class SyncWrapper:
    """A blocking twin: the async object it drives and the runner that drives it."""

    def __init__(self, async_obj: Any, runner: Runner) -> None:
        self._attach(async_obj, runner)

    def _attach(self, async_obj: Any, runner: Runner) -> None:
        """Hold the async object and its runner (a client's twin also makes its resources'
        twins here)."""
        self._async = async_obj
        self._runner = runner

    @classmethod
    def _twin(cls, async_obj: Any, runner: Runner) -> Self:
        """The twin of ``async_obj``, driven by ``runner`` (the runner's conversion registry
        and generated methods returning twins build them this way)."""
        twin = cls.__new__(cls)
        cls._attach(twin, async_obj, runner)
        return twin

    def __repr__(self) -> str:
        inner = repr(self._async)
        async_name = type(self._async).__name__
        for prefix in (async_name, "<" + async_name):
            if inner.startswith(prefix):
                return prefix.replace(async_name, type(self).__name__) + inner[len(prefix) :]
        return f"<{type(self).__name__} {inner}>"


class SyncFileBase(str):
    """A file output whose downloads block: the URL string, plus the async file output doing
    the work (the twin of :class:`~speedpix_async.FileOutput`)."""

    _async_type: ClassVar[type[FileOutput]] = FileOutput
    """The async class this class is the twin of (set by each generated twin)."""

    _async: FileOutput
    _bound: Runner | None

    def __new__(cls: type[S], value: FileOutput, runner: Runner | None = None) -> S:
        self = str.__new__(cls, str(value))
        self._async = value
        self._bound = runner
        return self

    def __repr__(self) -> str:
        return repr(self._async).replace(type(self._async).__name__, type(self).__name__, 1)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle the URL and metadata, never the client.
        return (_unbound, (type(self), str(self), dict(self._async.metadata)))

    def __copy__(self: S) -> S:
        return type(self)(self._async, self._bound)

    def __deepcopy__(self: S, memo: dict[int, Any]) -> S:
        return self.__copy__()

    @classmethod
    def _twin(cls: type[S], value: FileOutput, runner: Runner) -> S:
        return cls(value, runner)

    @property
    def _runner(self) -> Runner:
        runner = self._bound
        if runner is None:
            raise InputError(
                f"{self!r} is not bound to a client; use client.files.from_url(url) to download it"
            )
        return runner


def _unbound(cls: type[SyncFileBase], url: str, metadata: Mapping[str, Any]) -> SyncFileBase:
    return cls(cls._async_type(url, metadata=metadata))


def _structure_twin(value: Any, cls: type[SyncFileBase]) -> FileOutput:
    # A typed result annotated with a blocking file class (speedpix_async.sync.ImageFile) is
    # structured into the async twin on the loop thread; the runner converts it on the way out.
    return file_output(value, cls._async_type)


converter.register_structure_hook(SyncFileBase, _structure_twin)
