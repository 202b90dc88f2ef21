"""The default blocking client behind module-level calls (``speedpix_async.sync.run``).

One per process (a blocking client is safe to share between threads), created on first use
from the environment, and recreated in a forked child, which must not touch its parent's
event-loop thread. The generated module makes one holder per blocking client class.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from .._errors import ConfigurationError

__all__ = ["DefaultClient"]


class _Closable(Protocol):
    @property
    def closed(self) -> bool: ...


C = TypeVar("C", bound=_Closable)


class DefaultClient(Generic[C]):
    """Holds the default client of one blocking client class."""

    def __init__(self, kind: type[C], factory: Callable[[], C] | None = None) -> None:
        self._kind = kind
        self._factory: Callable[[], C] = factory or kind
        self._lock = threading.Lock()
        self._default: tuple[int, C] | None = None
        self._explicit: C | None = None

    def set(self, client: C | None) -> None:
        """Use ``client`` for module-level blocking calls (``None``: back to one built from the
        environment). The caller keeps ownership and closes it."""
        if client is not None and not isinstance(client, self._kind):
            raise ConfigurationError(
                f"set_default_client expects a {self._kind.__name__}, got "
                f"{type(client).__name__} (the async client has its own: "
                "speedpix_async.set_default_client)"
            )
        self._explicit = client

    def get(self) -> C:
        """The client module-level calls use (created on first use)."""
        if self._explicit is not None:
            return self._explicit
        with self._lock:
            current = self._default
            if current is None or current[0] != os.getpid() or current[1].closed:
                current = (os.getpid(), self._factory())
                self._default = current
            return current[1]

    def resolve(self, client: C | None) -> C:
        return client if client is not None else self.get()
