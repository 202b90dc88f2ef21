"""SpeedPix client configuration: arguments or ``SPEEDPIX_*`` variables, validated once into a
:class:`ClientConfig`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs
import httpx

from .._config import (
    DEFAULT_MAX_CONNECTIONS,
    CredentialNames,
    PollPolicy,
    RetryPolicy,
    TimeoutTypes,
    coerce_timeout,
    normalize_base_url,
    resolve_credentials,
    resolve_policies,
)
from .._errors import ConfigurationError

__all__ = [
    "DEFAULT_ENDPOINT",
    "ENV_APP_KEY",
    "ENV_APP_SECRET",
    "ENV_ENDPOINT",
    "SPEEDPIX_CREDENTIALS",
    "ClientConfig",
    "normalize_endpoint",
    "resolve_config",
    "urlsplit_path",
]

DEFAULT_ENDPOINT = "https://openai.edu-aliyun.com"
ENV_APP_KEY = "SPEEDPIX_APP_KEY"
ENV_APP_SECRET = "SPEEDPIX_APP_SECRET"
ENV_ENDPOINT = "SPEEDPIX_ENDPOINT"

SPEEDPIX_CREDENTIALS = CredentialNames(
    product="SpeedPix",
    key_argument="app_key",
    secret_argument="app_secret",
    key_variable=ENV_APP_KEY,
    secret_variable=ENV_APP_SECRET,
    console="the SpeedPix console",
)


@attrs.frozen(kw_only=True)
class ClientConfig:
    """Everything a client was configured with, validated. ``repr`` never shows the secret."""

    app_key: str
    app_secret: str = attrs.field(repr=False)
    endpoint: str
    timeout: httpx.Timeout
    user_agent: str
    upload_local_paths: bool = True
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    retry: RetryPolicy = attrs.Factory(RetryPolicy)
    poll: PollPolicy = attrs.Factory(PollPolicy)


def normalize_endpoint(endpoint: str, *, argument: str = "endpoint") -> str:
    """The SpeedPix endpoint: ``http(s)://host[:port][/prefix]`` without a trailing slash."""
    return normalize_base_url(
        endpoint,
        argument=argument,
        example=DEFAULT_ENDPOINT,
        credentials_hint="pass app_key/app_secret instead",
    )


def urlsplit_path(endpoint: str) -> str:
    """The path prefix of a normalized endpoint (``""`` for a bare host)."""
    return urlsplit(endpoint).path.rstrip("/")


def resolve_config(
    *,
    app_key: str | None = None,
    app_secret: str | None = None,
    endpoint: str | None = None,
    timeout: TimeoutTypes | None = None,
    max_retries: int | None = None,
    user_agent: str | None = None,
    upload_local_paths: bool = True,
    retry_policy: RetryPolicy | None = None,
    poll_policy: PollPolicy | None = None,
    env: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Merge arguments with ``SPEEDPIX_*`` environment variables and validate the result."""
    environ = os.environ if env is None else env
    key, secret = resolve_credentials(app_key, app_secret, environ, SPEEDPIX_CREDENTIALS)
    if endpoint is not None:
        url = normalize_endpoint(endpoint)
    elif environ.get(ENV_ENDPOINT):
        url = normalize_endpoint(environ[ENV_ENDPOINT], argument=f"${ENV_ENDPOINT}")
    else:
        url = DEFAULT_ENDPOINT
    retry, agent = resolve_policies(
        max_retries=max_retries, user_agent=user_agent, retry_policy=retry_policy
    )
    if not isinstance(upload_local_paths, bool):
        raise ConfigurationError(
            f"upload_local_paths must be True or False, got {upload_local_paths!r}"
        )
    return ClientConfig(
        app_key=key,
        app_secret=secret,
        endpoint=url,
        timeout=coerce_timeout(timeout),
        user_agent=agent,
        upload_local_paths=upload_local_paths,
        retry=retry,
        poll=poll_policy if poll_policy is not None else PollPolicy(),
    )
