"""What every service client is, written once: a configuration, a transport over an HTTP
backend, and the parts a service builds on them; the lifecycle (``async with``, ``aclose``),
``with_options`` and the backend it chose.

A service client subclasses :class:`AsyncServiceClient`: its ``__init__`` resolves its own
configuration and calls :meth:`AsyncServiceClient._start`; it says how it signs and reads
(``_profile``) and where it is (``_address``); its ``_build`` makes its endpoints, resources and
waits from ``self._config`` and ``self._transport``. A derived client
(``with_options``) is the same class built around the same pool.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypedDict, TypeVar

import httpx

from .._config import PollPolicy, RetryPolicy, TimeoutTypes, with_changes
from .._errors import ConfigurationError
from .._validate import check_keywords
from .answers import ServiceProfile
from .backends import HttpBackendName, open_backend
from .http import HttpBackend
from .transport import Transport

if TYPE_CHECKING:
    from typing_extensions import Self  # annotations only: 10 ms at start-up

__all__ = ["AsyncServiceClient", "ClientKeywords", "ServiceConfig", "policy_options"]


class ClientKeywords(TypedDict, total=False):
    """What every service client is built with, besides its own service's settings."""

    timeout: TimeoutTypes | None
    """Per-request timeout in seconds (or an :class:`httpx.Timeout`)."""
    max_retries: int | None
    """Retries of a failed call (default 4); a request that must not be sent twice is retried
    only when the failure proves it was not processed."""
    user_agent: str | None
    http_client: httpx.AsyncClient | None
    """An :class:`httpx.AsyncClient` to use (not closed by this client)."""
    transport: httpx.AsyncBaseTransport | None
    """An :class:`httpx.AsyncBaseTransport` for the client's own pool (e.g.
    ``httpx.ASGITransport(app=...)``)."""
    http_backend: HttpBackendName | None
    """``"auto"`` (default: native on asyncio, httpx on other loops or while respx /
    pytest-httpx is loaded), ``"httpx"``, ``"native"`` (the SDK's own HTTP/1.1 connections for
    API calls, files on aiohttp: the least client CPU per request; asyncio only) or
    ``"aiohttp"`` (asyncio only); default from ``SPEEDPIX_HTTP_BACKEND``. ``http_client=`` /
    ``transport=`` mean httpx."""
    retry_policy: RetryPolicy | None
    poll_policy: PollPolicy | None


#: The keywords that choose the connection rather than configure the service.
_CONNECTION = ("http_client", "transport", "http_backend")


def policy_options(options: ClientKeywords, call: str) -> dict[str, Any]:
    """The keywords a service's configuration resolves (timeouts, retries, user agent,
    policies), after refusing any ``call`` does not take."""
    check_keywords(options, ClientKeywords, call, ConfigurationError)
    return {key: value for key, value in options.items() if key not in _CONNECTION}


class ServiceConfig(Protocol):
    """What the kit needs of a service's (frozen, attrs) configuration."""

    @property
    def timeout(self) -> httpx.Timeout: ...
    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def poll(self) -> PollPolicy: ...
    @property
    def max_connections(self) -> int: ...
    @property
    def user_agent(self) -> str: ...


C = TypeVar("C", bound=ServiceConfig)


class AsyncServiceClient(Generic[C]):
    """What every service client has: ``async with`` / :meth:`aclose`, :meth:`with_options`,
    and the HTTP backend it chose."""

    _config: C
    _transport: Transport

    def _start(self, config: C, options: ClientKeywords) -> None:
        """Open the backend ``options`` choose and build the client around it."""
        backend = open_backend(
            options.get("http_backend"),
            timeout=config.timeout,
            max_connections=config.max_connections,
            http_client=options.get("http_client"),
            transport=options.get("transport"),
        )
        self._set(config, self._transport_for(config, backend))

    def _set(self, config: C, transport: Transport) -> None:
        self._config = config
        self._transport = transport
        self._build()

    @classmethod
    def _around(cls, config: C, transport: Transport) -> Self:
        """A client of this class built around an existing transport (``with_options``)."""
        client = cls.__new__(cls)
        cls._set(client, config, transport)
        return client

    def _transport_for(self, config: C, backend: HttpBackend) -> Transport:
        """The service's request pipeline: its profile over ``backend``, to its base URL."""
        base_url, sign_path_prefix = self._address(config)
        return Transport(
            profile=self._profile(config),
            backend=backend,
            base_url=base_url,
            retry=config.retry,
            timeout=config.timeout,
            user_agent=config.user_agent,
            sign_path_prefix=sign_path_prefix,
        )

    def _profile(self, config: C) -> ServiceProfile:
        """How the service signs requests and reads answers."""
        raise NotImplementedError

    def _address(self, config: C) -> tuple[str, str]:
        """The base URL requests go to, and the path prefix its signatures cover."""
        raise NotImplementedError

    def _build(self) -> None:
        """Make the service's parts from ``self._config`` and ``self._transport``."""
        raise NotImplementedError

    @property
    def http_backend(self) -> str:
        """The HTTP backend requests go through: ``"httpx"``, ``"native"`` or ``"aiohttp"``
        (``"auto"`` until the first request decides)."""
        return self._transport.backend.name

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._transport.closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (if this client created it). Safe to call twice."""
        await self._transport.aclose()

    def with_options(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        poll_policy: PollPolicy | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Self:
        """A client sharing this one's connection pool and credentials with other options::

            impatient = client.with_options(max_retries=0, timeout=5)

        Closing the derived client does not close the shared pool.
        """
        config = with_changes(
            self._config,
            timeout=timeout,
            max_retries=max_retries,
            poll_policy=poll_policy,
            retry_policy=retry_policy,
        )
        # Its parts are built afresh around the derived transport: nothing of this client's is
        # shared but the pool (and the clock skew it learned).
        transport = self._transport.derive(retry=config.retry, timeout=config.timeout)
        return self._around(config, transport)
