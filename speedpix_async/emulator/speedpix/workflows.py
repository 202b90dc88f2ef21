"""Published workflows the emulator can run: a registry with versions and aliases.

A workflow version is a Python callable ``handler(inputs, ctx)`` (plain or async) returning the
custom output fields (the ``result`` map of ``comfy_get_result``), plus a duration. Users register
their own in tests::

    emulator.register_workflow("my-wf", lambda inputs, ctx: {"text": inputs["prompt"].upper()})
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs

__all__ = [
    "FileStore",
    "Handler",
    "InvalidInput",
    "TaskContext",
    "Workflow",
    "WorkflowFailure",
    "WorkflowRegistry",
    "WorkflowVersion",
    "builtin_registry",
]

Handler = Callable[[dict[str, Any], "TaskContext"], Any | Awaitable[Any]]
Duration = float | Callable[[dict[str, Any]], float]
Validator = Callable[[dict[str, Any]], None]

#: Seconds every task spends in ``waiting`` before it runs (before --time-scale).
DEFAULT_QUEUE_SECONDS = 0.2


class FileStore(Protocol):
    """Where workflow handlers put outputs and read inputs (the emulator's object store)."""

    def put_output(
        self, data: bytes, *, filename: str, content_type: str, base_url: str
    ) -> str: ...

    def read_url(self, url: str) -> bytes: ...


@attrs.define
class TaskContext:
    """What a workflow handler can use besides its inputs."""

    task_id: str
    workflow_id: str
    version: str
    base_url: str
    """The emulator's URL as the client reached it; output URLs are built on it."""
    store: FileStore | None = None
    images: list[str] = attrs.Factory(list)
    """URLs of files this run produced, in order: the ``images`` default output list."""

    def save_output(self, data: bytes, *, filename: str, content_type: str) -> str:
        """Store an output file; return its time-limited URL (also added to ``images``)."""
        if self.store is None:
            raise RuntimeError("this emulator has no object store")
        url = self.store.put_output(
            data, filename=filename, content_type=content_type, base_url=self.base_url
        )
        self.images.append(url)
        return url

    def read_input(self, url: str) -> bytes:
        """Fetch an input file by URL. Only the emulator's own store is reachable (there is no
        internet here), as a real service could only fetch what it can reach."""
        if self.store is None:
            raise RuntimeError("this emulator has no object store")
        return self.store.read_url(url)


class InvalidInput(Exception):
    """Raised by a validator at submit time: the task is refused with ``InvalidParameter``."""


class WorkflowFailure(Exception):
    """Raised by a handler: the task ends ``failed`` with this code and message.

    ``style`` chooses how ``comfy_get_result`` reports it (undocumented; docs/protocol.md,
    "Task states"):
    ``"envelope"`` answers ``status: 20`` with the sub-error; ``"data"`` answers ``status: 10``
    with ``data.status == "failed"`` (the case the official Python SDK misses).
    """

    def __init__(
        self, message: str, *, code: str = "WorkflowExecutionError", style: str = "envelope"
    ) -> None:
        super().__init__(message)
        if style not in ("envelope", "data"):
            raise ValueError(f"style must be 'envelope' or 'data', got {style!r}")
        self.message = message
        self.code = code
        self.style = style


@attrs.frozen(kw_only=True)
class WorkflowVersion:
    handler: Handler
    duration: Duration = 1.0
    """Seconds the task runs (before ``--time-scale``), or a function of the inputs."""
    validate: Validator | None = None
    queue_seconds: float = DEFAULT_QUEUE_SECONDS

    def run_seconds(self, inputs: dict[str, Any]) -> float:
        value = self.duration(inputs) if callable(self.duration) else self.duration
        return max(0.0, float(value))


@attrs.define
class Workflow:
    workflow_id: str
    versions: dict[str, WorkflowVersion] = attrs.Factory(dict)
    aliases: dict[str, str] = attrs.Factory(dict)


class NotFound(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class WorkflowRegistry:
    def __init__(self) -> None:
        self._workflows: dict[str, Workflow] = {}
        self._lock = threading.Lock()

    def register(
        self,
        workflow_id: str,
        handler: Handler,
        *,
        duration: Duration = 1.0,
        validate: Validator | None = None,
        version: str = "v1",
        aliases: Mapping[str, str] | None = None,
        queue_seconds: float = DEFAULT_QUEUE_SECONDS,
    ) -> None:
        """Publish ``version`` of ``workflow_id``. The first version of a workflow also gets the
        alias ``main`` unless ``aliases`` says otherwise."""
        spec = WorkflowVersion(
            handler=handler, duration=duration, validate=validate, queue_seconds=queue_seconds
        )
        with self._lock:
            workflow = self._workflows.setdefault(workflow_id, Workflow(workflow_id))
            if not workflow.versions and aliases is None:
                aliases = {"main": version}
            workflow.versions[version] = spec
            workflow.aliases.update(aliases or {})

    def ids(self) -> list[str]:
        with self._lock:
            return sorted(self._workflows)

    def resolve(
        self, workflow_id: str, alias_id: str | None, version_id: str | None
    ) -> tuple[str, WorkflowVersion]:
        """The version to run. ``version_id`` wins when both are given (what the Java SDK's
        always-``main`` alias needs to keep working; docs/protocol.md "Official SDK behaviour")."""
        with self._lock:
            workflow = self._workflows.get(workflow_id)
            if workflow is None:
                known = ", ".join(sorted(self._workflows)) or "none"
                raise NotFound(
                    "WorkflowNotFound",
                    f"workflow {workflow_id!r} does not exist; this emulator has: {known} "
                    "(publish your own with Emulator.register_workflow)",
                )
            if version_id is not None:
                spec = workflow.versions.get(version_id)
                if spec is None:
                    raise NotFound(
                        "WorkflowVersionNotFound",
                        f"workflow {workflow_id!r} has no version {version_id!r}",
                    )
                return version_id, spec
            alias = alias_id or "main"
            target = workflow.aliases.get(alias)
            if target is None:
                raise NotFound(
                    "WorkflowAliasNotFound", f"workflow {workflow_id!r} has no alias {alias!r}"
                )
            return target, workflow.versions[target]


# ------------------------------------------------------------------------------ built-ins


def _number(
    inputs: Mapping[str, Any], key: str, default: float, *, low: float, high: float
) -> float:
    value = inputs.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{key} must be a number, got {value!r}")
    if not low <= float(value) <= high:
        raise InvalidInput(f"{key} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _validate_sleep(inputs: dict[str, Any]) -> None:
    if "seconds" not in inputs:
        raise InvalidInput("inputs.seconds is required")
    _number(inputs, "seconds", 1.0, low=0, high=86400)


def _sleep(inputs: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    return {"slept": inputs["seconds"]}


def _echo(inputs: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    return {"echo": inputs, "version": ctx.version}


def _validate_fail(inputs: dict[str, Any]) -> None:
    _number(inputs, "seconds", 0.5, low=0, high=86400)
    style = inputs.get("style", "envelope")
    if style not in ("envelope", "data"):
        raise InvalidInput(f"style must be 'envelope' or 'data', got {style!r}")


def _fail(inputs: dict[str, Any], ctx: TaskContext) -> Any:
    raise WorkflowFailure(
        str(inputs.get("message") or "the workflow failed on purpose (wf-fail)"),
        code=str(inputs.get("code") or "WorkflowExecutionError"),
        style=str(inputs.get("style") or "envelope"),
    )


def builtin_registry() -> WorkflowRegistry:
    """The workflows every emulator starts with ."""
    registry = WorkflowRegistry()
    registry.register(
        "wf-sleep",
        _sleep,
        duration=lambda inputs: float(inputs["seconds"]),
        validate=_validate_sleep,
    )
    for version in ("v1", "v2"):
        registry.register(
            "wf-echo",
            _echo,
            duration=lambda inputs: _number(inputs, "seconds", 0.3, low=0, high=86400),
            version=version,
            aliases={"main": "v1"} if version == "v1" else {"beta": "v2"},
        )
    registry.register(
        "wf-fail",
        _fail,
        duration=lambda inputs: _number(inputs, "seconds", 0.5, low=0, high=86400),
        validate=_validate_fail,
    )
    return registry
