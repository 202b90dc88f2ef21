"""AI Portrait client configuration: arguments or ``PAI_PORTRAIT_*`` variables, validated once."""

from __future__ import annotations

import os
from collections.abc import Mapping

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
    "ENV_APP_ID",
    "ENV_HOST",
    "ENV_TOKEN",
    "PORTRAIT_POLL",
    "PortraitClientConfig",
    "normalize_host",
    "resolve_portrait_config",
]

ENV_HOST = "PAI_PORTRAIT_HOST"
ENV_APP_ID = "PAI_PORTRAIT_APP_ID"
ENV_TOKEN = "PAI_PORTRAIT_TOKEN"
PORTRAIT_CREDENTIALS = CredentialNames(
    product="AI Portrait",
    key_argument="app_id",
    secret_argument="token",
    key_variable=ENV_APP_ID,
    secret_variable=ENV_TOKEN,
    console="the AI Portrait page",
)
#: Creating a portrait takes tens of seconds and answers in the same request, so reads wait up
#: to two minutes (connecting still fails fast).
DEFAULT_PORTRAIT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
#: Training jobs report no estimate of the time left: a wait polls after 2 s, then 3, 4.5, 6.75…
#: seconds, up to the guide's own 30 s.
PORTRAIT_POLL = PollPolicy(min_interval=0.5, max_interval=30.0, fallback_interval=2.0, backoff=1.5)


@attrs.frozen(kw_only=True)
class PortraitClientConfig:
    """Everything a Portrait client was configured with. ``repr`` never shows the token."""

    host: str
    app_id: str
    token: str = attrs.field(repr=False)
    timeout: httpx.Timeout
    user_agent: str
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    retry: RetryPolicy = attrs.Factory(RetryPolicy)
    poll: PollPolicy = PORTRAIT_POLL


def normalize_host(host: str, *, argument: str = "host") -> str:
    """``http(s)://host[:port][/prefix]`` or a bare host (read as ``http://``), without a
    trailing slash — as the official SDKs accept it."""
    return normalize_base_url(
        host,
        argument=argument,
        example="http://ai-service.xxx.cn-hangzhou.alicontainer.com",
        credentials_hint="pass app_id/token separately",
        default_scheme="http",
    )


def resolve_portrait_config(
    *,
    host: str | None = None,
    app_id: str | None = None,
    token: str | None = None,
    timeout: TimeoutTypes | None = None,
    max_retries: int | None = None,
    user_agent: str | None = None,
    retry_policy: RetryPolicy | None = None,
    poll_policy: PollPolicy | None = None,
    env: Mapping[str, str] | None = None,
) -> PortraitClientConfig:
    """Merge arguments with ``PAI_PORTRAIT_*`` environment variables and validate the result."""
    environ = os.environ if env is None else env
    key, secret = resolve_credentials(app_id, token, environ, PORTRAIT_CREDENTIALS)
    if host is not None:
        url = normalize_host(host)
    elif environ.get(ENV_HOST):
        url = normalize_host(environ[ENV_HOST], argument=f"${ENV_HOST}")
    else:
        raise ConfigurationError(
            f"no AI Portrait host: pass host= or set {ENV_HOST} to the service address shown on "
            "the AI Portrait page (each account has its own)"
        )
    retry, agent = resolve_policies(
        max_retries=max_retries, user_agent=user_agent, retry_policy=retry_policy
    )
    return PortraitClientConfig(
        host=url,
        app_id=key,
        token=secret,
        timeout=DEFAULT_PORTRAIT_TIMEOUT if timeout is None else coerce_timeout(timeout),
        user_agent=agent,
        retry=retry,
        poll=poll_policy if poll_policy is not None else PORTRAIT_POLL,
    )
