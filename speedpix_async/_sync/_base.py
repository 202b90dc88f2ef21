"""Bases of the generated blocking classes (hand-written, tiny, no behaviour of their own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import InputError
from ..outputs import FileInfo, FileOutput
from ._runner import Runner

if TYPE_CHECKING:
    from .._transport import AsyncTransport

__all__ = ["SyncFileBase", "SyncWrapper"]

W = TypeVar("W", bound="SyncWrapper")
S = TypeVar("S", bound="SyncFileBase")


class SyncWrapper:
    """A blocking twin holding the async object it drives and the runner that drives it."""

    _async: Any
    _runner: Runner

    @classmethod
    def _wrap(cls: type[W], async_obj: Any, runner: Runner) -> W:
        obj = cls.__new__(cls)
        obj._async = async_obj
        obj._runner = runner
        obj._bind()
        return obj

    def _bind(self) -> None:
        """Wrap the async object's resource attributes (generated where there are any)."""

    def __repr__(self) -> str:
        inner = repr(self._async)
        async_name = type(self._async).__name__
        for prefix in (async_name, "<" + async_name):
            if inner.startswith(prefix):
                return prefix.replace(async_name, type(self).__name__) + inner[len(prefix) :]
        return f"<{type(self).__name__} {inner}>"


class SyncFileBase(FileInfo):
    """A file output whose downloads block (the twin of :class:`~speedpix_async.FileOutput`)."""

    _runner_or_none: Runner | None

    def __new__(
        cls: type[S],
        url: str,
        *,
        transport: AsyncTransport | None = None,
        metadata: Mapping[str, Any] | None = None,
        runner: Runner | None = None,
    ) -> S:
        obj = FileInfo.__new__(cls, url, transport=transport, metadata=metadata)
        obj._runner_or_none = runner
        return obj

    def _binding(self) -> dict[str, Any]:
        return {"transport": self._transport, "runner": self._runner_or_none}

    def _with_runner(self: S, runner: Runner) -> S:
        return type(self)(
            str(self), transport=self._transport, metadata=self.metadata, runner=runner
        )

    @classmethod
    def _from_async(cls: type[S], value: FileInfo, runner: Runner) -> S:
        return cls(str(value), transport=value._transport, metadata=value.metadata, runner=runner)

    @property
    def _runner(self) -> Runner:
        runner = self._runner_or_none
        if runner is None:
            raise InputError(
                f"{self!r} is not bound to a client; use client.files.from_url(url) to download it"
            )
        return runner

    @property
    def _async(self) -> FileOutput:
        """The async file output doing the work for this twin."""
        return FileOutput(str(self), transport=self._transport, metadata=self.metadata)
