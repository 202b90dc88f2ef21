"""What every service's client configuration is made of: the retry and poll policies, the
per-request timeout, credential pairs and base URLs, validated once.

Each service resolves its own configuration from these (``speedpix/config.py``,
``portrait/config.py``); the transport and resources only read it. Bad values fail at
construction with a :class:`ConfigurationError` that names the argument or environment
variable to change.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import attrs
import httpx

from ._errors import ConfigurationError
from ._redact import redact_url
from ._validate import MIN_POLL_INTERVAL, header_problem
from ._version import __version__

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "CredentialNames",
    "PollPolicy",
    "RetryPolicy",
    "TimeoutTypes",
    "coerce_timeout",
    "normalize_base_url",
    "resolve_credentials",
    "resolve_policies",
    "with_changes",
]

#: Per-request timeout in seconds; the guides' default.
DEFAULT_TIMEOUT = 30.0
#: Retries after the first attempt. With the backoff below the series of waits is
#: 0.5, 1, 2, 4 s (each ±25 % jitter), i.e. about 7.5 s before giving up on a flaky call.
DEFAULT_MAX_RETRIES = 4
#: First backoff delay; doubles per retry: 0.5, 1, 2, 4, 8, 8, … (capped by RETRY_MAX_DELAY).
RETRY_INITIAL_DELAY = 0.5
RETRY_MAX_DELAY = 8.0
#: ± fraction of randomness applied to each delay so a fan-out does not retry in lock-step.
RETRY_JITTER = 0.25
#: A server's ``Retry-After`` is honoured up to this many seconds.
RETRY_AFTER_CAP = 60.0
#: Total seconds one call may spend across its attempts and waits.
RETRY_BUDGET = 120.0

#: Deadline for waiting on one prediction when the caller gives none (30 minutes).
DEFAULT_WAIT_TIMEOUT = 1800.0
#: Adaptive polling never polls more often than this…
POLL_MIN_INTERVAL = 0.1
#: …nor, while the server gives no estimate, less often than this.
POLL_MAX_INTERVAL = 5.0
#: A poll aimed at the server's estimate of the end may be this far ahead: one poll per task
#: whether it takes 2 s or 20 minutes. The cost: a task that fails early is noticed at its
#: estimated end — pass ``polling_interval=`` (or a smaller ``max_aim``) to look sooner.
POLL_MAX_AIM = 3600.0
#: Used while the server has given no usable ETA.
POLL_FALLBACK_INTERVAL = 1.0
#: A poll aimed at the expected end lands this much after it: 0.05 s + 1 % of the wait, so a
#: 2 s ETA polls at 2.07 s, a 30 s ETA at 30.35 s and a 300 s ETA at 303.05 s. (A poll that
#: lands early costs one request and brings a fresh estimate; one that lands late costs lag.)
POLL_ETA_MARGIN = 0.05
POLL_ETA_MARGIN_RATIO = 0.01
#: …but never more than this in all: the time over a long task is bounded in seconds, not only
#: as a share of it (a 300 s ETA polls at 300.15 s, not 303.05 s).
POLL_ETA_MARGIN_CAP = 0.15
#: Service estimates are often off by a factor (the queue, a slower GPU). Nobody watching, a
#: wait on a task expected to take at least ``POLL_CHECK_IN_MIN`` seconds takes one progress
#: reading at about ``POLL_CHECK_IN`` of the estimate — before an estimate 30 % too long would
#: let the task end unseen — and learns from it how wrong this task's estimates are; the aim
#: at the end is corrected by that factor. The factor is shared with the client's later waits
#: on the same workflow for ``POLL_CALIBRATION_TTL`` seconds, which then need no reading of
#: their own: a fan-out pays the reading for its first few tasks only.
POLL_CHECK_IN = 0.7
POLL_CHECK_IN_MIN = 1.0
POLL_CALIBRATION_TTL = 300.0
#: Up to this fraction is added at random to each delay (never subtracted: polling early only
#: costs a request) so thousands of predictions do not poll in lock-step…
POLL_JITTER = 0.1
#: …but never more than this many seconds: a 2 s wait gets up to 0.1 s, a 60 s wait too.
POLL_JITTER_CAP = 0.1

#: While someone watches a wait (``on_progress=``, ``watch()``, a progress display), it polls
#: every ``max(POLL_WATCH_INTERVAL, POLL_WATCH_FRACTION × the estimate)``: every second for a
#: task expected to take 20 s or less, every 5 s for a 100 s one, every 30 s for a 10-minute
#: one — often enough for a display to stay alive. Nobody watching, a wait polls once, at the
#: estimated end.
POLL_WATCH_INTERVAL = 1.0
POLL_WATCH_FRACTION = 0.05

#: Connections kept open to the endpoint. ``run_many`` raises it to its concurrency.
DEFAULT_MAX_CONNECTIONS = 64
#: Idle pooled connections are dropped after this long: shorter than common server keep-alive
#: timeouts (5 s for uvicorn and nginx defaults) so we rarely send on a connection the server is
#: closing, which would make a submit's outcome unknown.
KEEPALIVE_EXPIRY = 4.0

TimeoutTypes = float | httpx.Timeout


def _positive_finite(name: str, value: Any, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(
            f"{name} must be a number of seconds, got {type(value).__name__} {value!r}"
        )
    number = float(value)
    if math.isnan(number) or math.isinf(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigurationError(f"{name} must be a finite number {bound}, got {value!r}")
    return number


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How failed calls are retried (docs/architecture.md, "Where each rule lives").

    Immutable; derive variants with :func:`attrs.evolve` or ``client.with_options(...)``."""

    max_retries: int = DEFAULT_MAX_RETRIES
    """Retries after the first attempt (0 disables retrying)."""
    initial_delay: float = RETRY_INITIAL_DELAY
    """First backoff delay in seconds; doubles per retry."""
    max_delay: float = RETRY_MAX_DELAY
    """Cap of a single backoff delay."""
    jitter: float = RETRY_JITTER
    """± fraction of randomness per delay."""
    max_retry_after: float = RETRY_AFTER_CAP
    """Cap on a server's ``Retry-After``."""
    budget: float = RETRY_BUDGET
    """Total seconds one call may spend across attempts and waits."""

    def __attrs_post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ConfigurationError(f"max_retries must be an int >= 0, got {self.max_retries!r}")
        if self.max_retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {self.max_retries}")
        _positive_finite("RetryPolicy.initial_delay", self.initial_delay, allow_zero=True)
        _positive_finite("RetryPolicy.max_delay", self.max_delay, allow_zero=True)
        _positive_finite("RetryPolicy.max_retry_after", self.max_retry_after, allow_zero=True)
        _positive_finite("RetryPolicy.budget", self.budget)
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"RetryPolicy.jitter must be within [0, 1], got {self.jitter}")


@attrs.frozen(kw_only=True)
class PollPolicy:
    """How a wait polls the task (docs/architecture.md, "Where each rule lives")."""

    interval: float | None = None
    """A fixed interval in seconds; ``None`` (default) follows the server's ETA."""
    min_interval: float = POLL_MIN_INTERVAL
    max_interval: float = POLL_MAX_INTERVAL
    """The longest wait between polls while the server gives no estimate."""
    max_aim: float = POLL_MAX_AIM
    """The furthest ahead a poll aimed at the server's estimated end may be."""
    fallback_interval: float = POLL_FALLBACK_INTERVAL
    """The wait while the server gives no estimate…"""
    backoff: float = 1.0
    """…multiplied by this after each such poll, up to ``max_interval`` (1: a fixed wait)."""
    eta_margin: float = POLL_ETA_MARGIN
    eta_margin_ratio: float = POLL_ETA_MARGIN_RATIO
    eta_margin_cap: float = POLL_ETA_MARGIN_CAP
    """The most the margin (``eta_margin + eta_margin_ratio × ETA``) may add to an aim."""
    check_in: float = POLL_CHECK_IN
    """Unwatched: the share of the estimate at which one progress reading corrects the aim
    (0: never; aim at the estimate as given)."""
    check_in_min: float = POLL_CHECK_IN_MIN
    """Tasks estimated shorter than this take no reading (the aim is cheap to miss)."""
    calibration_ttl: float = POLL_CALIBRATION_TTL
    """How long a learned estimate factor serves the client's later waits (0: not shared)."""
    jitter: float = POLL_JITTER
    jitter_cap: float = POLL_JITTER_CAP
    default_timeout: float = DEFAULT_WAIT_TIMEOUT
    """Deadline of a wait when the call gives no ``timeout``."""
    watch_interval: float = POLL_WATCH_INTERVAL
    """While someone watches: the shortest interval between polls…"""
    watch_fraction: float = POLL_WATCH_FRACTION
    """…or this fraction of the estimated duration (of the time waited so far, without an
    estimate), whichever is longer."""

    def __attrs_post_init__(self) -> None:
        if self.interval is not None:
            _positive_finite("polling_interval", self.interval)
        _positive_finite("PollPolicy.min_interval", self.min_interval)
        for name in ("interval", "min_interval", "fallback_interval"):
            value = getattr(self, name)
            if value is not None and value < MIN_POLL_INTERVAL:
                raise ConfigurationError(
                    f"PollPolicy.{name} must be at least {MIN_POLL_INTERVAL} s, got {value!r}; "
                    "polling faster only loads the server"
                )
        _positive_finite("PollPolicy.max_interval", self.max_interval)
        if _positive_finite("PollPolicy.max_aim", self.max_aim) < self.min_interval:
            raise ConfigurationError(
                "PollPolicy.max_aim must not be below min_interval "
                f"({self.max_aim} < {self.min_interval})"
            )
        _positive_finite("PollPolicy.fallback_interval", self.fallback_interval)
        _positive_finite("PollPolicy.default_timeout", self.default_timeout)
        if _positive_finite("PollPolicy.watch_interval", self.watch_interval) < MIN_POLL_INTERVAL:
            raise ConfigurationError(
                f"PollPolicy.watch_interval must be at least {MIN_POLL_INTERVAL} s, got "
                f"{self.watch_interval!r}"
            )
        if not 0 <= self.watch_fraction <= 1:
            raise ConfigurationError(
                f"PollPolicy.watch_fraction must be within [0, 1], got {self.watch_fraction}"
            )
        _positive_finite("PollPolicy.eta_margin", self.eta_margin, allow_zero=True)
        _positive_finite("PollPolicy.eta_margin_ratio", self.eta_margin_ratio, allow_zero=True)
        _positive_finite("PollPolicy.eta_margin_cap", self.eta_margin_cap, allow_zero=True)
        if not 0 <= self.check_in < 1:
            raise ConfigurationError(
                f"PollPolicy.check_in must be within [0, 1), got {self.check_in}"
            )
        _positive_finite("PollPolicy.check_in_min", self.check_in_min, allow_zero=True)
        _positive_finite("PollPolicy.calibration_ttl", self.calibration_ttl, allow_zero=True)
        if self.min_interval > self.max_interval:
            raise ConfigurationError(
                "PollPolicy.min_interval must not exceed max_interval "
                f"({self.min_interval} > {self.max_interval})"
            )
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"PollPolicy.jitter must be within [0, 1], got {self.jitter}")
        if _positive_finite("PollPolicy.backoff", self.backoff) < 1:
            raise ConfigurationError(f"PollPolicy.backoff must be >= 1, got {self.backoff}")


def default_user_agent() -> str:
    return (
        f"speedpix-async/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"
    )


def normalize_base_url(
    value: Any,
    *,
    argument: str,
    example: str,
    credentials_hint: str,
    default_scheme: str | None = None,
) -> str:
    """Validate ``http(s)://host[:port][/prefix]`` and drop a trailing slash. Messages never
    show credentials written into the URL. With ``default_scheme``, a bare host is accepted."""
    if not isinstance(value, str) or not value.strip():
        shown = redact_url(value) if isinstance(value, str) else repr(value)
        raise ConfigurationError(f"{argument} must be a URL such as {example!r}, got {shown!r}")
    text = value.strip()
    shown = redact_url(text)
    if any(not ch.isprintable() or ch.isspace() for ch in text):
        raise ConfigurationError(
            f"{argument} {shown!r} contains whitespace or control characters; copy it again"
        )
    if default_scheme is not None and "://" not in text:
        text = f"{default_scheme}://{text}"
    parts = urlsplit(text)
    if parts.username or parts.password:
        raise ConfigurationError(
            f"{argument} must not embed credentials in the URL (user:password@…); "
            f"{credentials_hint}"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        rest = text.split("://", 1)[1] if "://" in text else text
        hint = f"https://{rest}" if rest and not rest.startswith("/") else example
        raise ConfigurationError(
            f"{argument} {shown!r} needs an http:// or https:// scheme and a host; "
            f"did you mean {redact_url(hint)!r}?"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"{argument} {shown!r} must not contain a query string or fragment; "
            "give only scheme, host, port and an optional path prefix"
        )
    try:
        _ = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{argument} {shown!r} has an invalid port") from exc
    return text.rstrip("/")


def coerce_timeout(timeout: TimeoutTypes | None) -> httpx.Timeout:
    """A per-request timeout as an :class:`httpx.Timeout`; numbers apply to every phase."""
    if timeout is None:
        return httpx.Timeout(DEFAULT_TIMEOUT)
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(_positive_finite("timeout", timeout))


@attrs.frozen
class CredentialNames:
    """How a service names its credential pair, for lookups and messages that name the fix."""

    product: str
    """``SpeedPix``, ``AI Portrait``."""
    key_argument: str
    secret_argument: str
    key_variable: str
    secret_variable: str
    console: str
    """Where the user copies the values from."""


def _credential(
    name: str, value: str | None, source: str, console: str, *, in_header: bool
) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, got {type(value).__name__}")
    if value == "":
        return None
    if value != value.strip():
        raise ConfigurationError(
            f"{name} from {source} has leading or trailing whitespace; "
            f"copy it again from {console} without spaces or newlines"
        )
    problem = header_problem(value) if in_header else None
    if problem is not None:
        # The key is an identifier, not a secret: naming what is wrong with it is safe.
        raise ConfigurationError(
            f"{name} from {source} cannot be sent in a request header: {problem}; copy it "
            f"again from {console}"
        )
    return value


def resolve_credentials(
    key: str | None,
    secret: str | None,
    env: Mapping[str, str],
    names: CredentialNames,
) -> tuple[str, str]:
    """Credentials come in pairs, from one source: both arguments, or both env vars.

    Mixing sources (a key argument with a secret from the environment) is how a key from one app
    ends up paired with another app's secret, so it is refused.
    """
    key_arg, secret_arg = names.key_argument, names.secret_argument
    key_var, secret_var = names.key_variable, names.secret_variable
    key = _credential(key_arg, key, f"the {key_arg} argument", names.console, in_header=True)
    secret = _credential(
        secret_arg, secret, f"the {secret_arg} argument", names.console, in_header=False
    )
    both = f"pass both {key_arg}= and {secret_arg}=, or neither to read {key_var} and {secret_var}"
    if key is not None or secret is not None:
        if key is None:
            raise ConfigurationError(f"{secret_arg} was given but {key_arg} was not; {both}")
        if secret is None:
            raise ConfigurationError(f"{key_arg} was given but {secret_arg} was not; {both}")
        return key, secret
    key = _credential(key_var, env.get(key_var), f"${key_var}", names.console, in_header=True)
    secret = _credential(
        secret_var, env.get(secret_var), f"${secret_var}", names.console, in_header=False
    )
    if key is None and secret is None:
        raise ConfigurationError(
            f"no {names.product} credentials: pass {key_arg}= and {secret_arg}=, or set the "
            f"{key_var} and {secret_var} environment variables"
        )
    if key is None:
        raise ConfigurationError(
            f"{secret_var} is set but {key_var} is not; set both environment variables"
        )
    if secret is None:
        raise ConfigurationError(
            f"{key_var} is set but {secret_var} is not; set both environment variables"
        )
    return key, secret


def resolve_policies(
    *,
    max_retries: int | None,
    user_agent: str | None,
    retry_policy: RetryPolicy | None,
) -> tuple[RetryPolicy, str]:
    """The retry policy (``max_retries`` applied) and the User-Agent, validated."""
    retry = retry_policy if retry_policy is not None else RetryPolicy()
    if max_retries is not None:
        retry = attrs.evolve(retry, max_retries=max_retries)
    if user_agent is not None and (not isinstance(user_agent, str) or not user_agent.strip()):
        raise ConfigurationError(f"user_agent must be a non-empty string, got {user_agent!r}")
    problem = header_problem(user_agent) if user_agent is not None else None
    if problem is not None:
        raise ConfigurationError(f"user_agent {user_agent!r} cannot be sent: {problem}")
    return retry, user_agent or default_user_agent()


class _Tunable(Protocol):
    """What :func:`with_changes` needs of a client's configuration."""

    @property
    def timeout(self) -> httpx.Timeout: ...
    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def poll(self) -> PollPolicy: ...


ConfigT = TypeVar("ConfigT", bound=_Tunable)


def with_changes(
    config: ConfigT,
    *,
    timeout: TimeoutTypes | None,
    max_retries: int | None,
    poll_policy: PollPolicy | None,
    retry_policy: RetryPolicy | None,
) -> ConfigT:
    """``config`` with a client's ``with_options`` arguments applied (``None``: unchanged)."""
    retry = retry_policy or config.retry
    if max_retries is not None:
        retry = attrs.evolve(retry, max_retries=max_retries)
    # Both configurations are attrs classes; the plugin cannot see it through the protocol.
    return attrs.evolve(  # type: ignore[misc]
        config,
        timeout=config.timeout if timeout is None else coerce_timeout(timeout),
        retry=retry,
        poll=poll_policy or config.poll,
    )
