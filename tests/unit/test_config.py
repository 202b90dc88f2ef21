"""Client configuration: credential pairs, environment, endpoint, timeouts, secret hygiene."""

from __future__ import annotations

import httpx
import pytest

from speedpix_async import AsyncSpeedPix, ConfigurationError, PollPolicy, RetryPolicy
from speedpix_async._signing import GatewaySigner
from speedpix_async.speedpix.config import DEFAULT_ENDPOINT, resolve_config
from speedpix_async.speedpix.profile import SpeedPixProfile

SECRET = "s3cr3t-value-never-shown"


def test_arguments_win_and_the_default_endpoint_applies() -> None:
    config = resolve_config(app_key="k", app_secret=SECRET, env={})
    assert config.app_key == "k"
    assert config.app_secret == SECRET
    assert config.endpoint == DEFAULT_ENDPOINT == "https://openai.edu-aliyun.com"
    assert config.timeout == httpx.Timeout(30.0)


def test_environment_supplies_the_pair_and_endpoint() -> None:
    env = {
        "SPEEDPIX_APP_KEY": "env-key",
        "SPEEDPIX_APP_SECRET": SECRET,
        "SPEEDPIX_ENDPOINT": "http://127.0.0.1:8787/",
    }
    config = resolve_config(env=env)
    assert (config.app_key, config.app_secret) == ("env-key", SECRET)
    assert config.endpoint == "http://127.0.0.1:8787"


def test_client_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEEDPIX_APP_KEY", "from-env")
    monkeypatch.setenv("SPEEDPIX_APP_SECRET", SECRET)
    client = AsyncSpeedPix()
    assert client.app_key == "from-env"
    assert client.endpoint == DEFAULT_ENDPOINT


@pytest.mark.parametrize(
    ("kwargs", "env", "must_mention"),
    [
        ({}, {}, ["SPEEDPIX_APP_KEY", "SPEEDPIX_APP_SECRET", "app_key="]),
        ({"app_key": "k"}, {}, ["app_secret", "pass both"]),
        ({"app_secret": SECRET}, {}, ["app_key", "pass both"]),
        ({"app_key": "k"}, {"SPEEDPIX_APP_SECRET": SECRET}, ["app_secret", "pass both"]),
        ({}, {"SPEEDPIX_APP_KEY": "k"}, ["SPEEDPIX_APP_SECRET", "set both"]),
        ({}, {"SPEEDPIX_APP_SECRET": SECRET}, ["SPEEDPIX_APP_KEY", "set both"]),
        ({"app_key": "", "app_secret": ""}, {}, ["SPEEDPIX_APP_KEY"]),
    ],
    ids=[
        "none",
        "key-only",
        "secret-only",
        "mixed-sources",
        "env-key-only",
        "env-secret-only",
        "empty",
    ],
)
def test_half_or_missing_pairs_name_the_fix(
    kwargs: dict[str, str], env: dict[str, str], must_mention: list[str]
) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_config(env=env, app_key=kwargs.get("app_key"), app_secret=kwargs.get("app_secret"))
    for phrase in must_mention:
        assert phrase in str(info.value)
    assert SECRET not in str(info.value)


def test_whitespace_around_a_credential_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError, match="whitespace") as info:
        resolve_config(app_key="k", app_secret=SECRET + "\n", env={})
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("endpoint", "fragment"),
    [
        ("openai.edu-aliyun.com", "https://openai.edu-aliyun.com"),
        ("ftp://example.com", "http:// or https://"),
        ("https://", "scheme and a host"),
        ("https://example.com/?x=1", "query string"),
        ("https://user:pw@example.com", "credentials"),
        ("", "must be a URL"),
        ("http://example.com:99999", "invalid port"),
    ],
)
def test_bad_endpoints_are_refused(endpoint: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match="endpoint") as info:
        resolve_config(app_key="k", app_secret=SECRET, endpoint=endpoint, env={})
    assert fragment in str(info.value)


def test_env_endpoint_errors_name_the_variable() -> None:
    env = {
        "SPEEDPIX_APP_KEY": "k",
        "SPEEDPIX_APP_SECRET": SECRET,
        "SPEEDPIX_ENDPOINT": "localhost:8787",
    }
    with pytest.raises(ConfigurationError, match=r"\$SPEEDPIX_ENDPOINT"):
        resolve_config(env=env)


@pytest.mark.parametrize("timeout", [-1, 0, float("nan"), float("inf"), "30", True])
def test_bad_timeouts_are_refused(timeout: object) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        resolve_config(app_key="k", app_secret=SECRET, timeout=timeout, env={})  # type: ignore[arg-type]


def test_timeout_accepts_numbers_and_httpx_timeouts() -> None:
    assert resolve_config(
        app_key="k", app_secret=SECRET, timeout=5, env={}
    ).timeout == httpx.Timeout(5.0)
    custom = httpx.Timeout(10.0, connect=2.0)
    assert resolve_config(app_key="k", app_secret=SECRET, timeout=custom, env={}).timeout is custom


@pytest.mark.parametrize("max_retries", [-1, 1.5, True])
def test_bad_max_retries_are_refused(max_retries: object) -> None:
    with pytest.raises(ConfigurationError, match="max_retries"):
        resolve_config(app_key="k", app_secret=SECRET, max_retries=max_retries, env={})  # type: ignore[arg-type]


def test_policies_validate_their_numbers() -> None:
    with pytest.raises(ConfigurationError, match="jitter"):
        RetryPolicy(jitter=2.0)
    with pytest.raises(ConfigurationError, match="min_interval must not exceed"):
        PollPolicy(min_interval=10.0, max_interval=1.0)
    with pytest.raises(ConfigurationError, match="polling_interval"):
        PollPolicy(interval=-1.0)


def test_repr_of_client_and_config_never_shows_the_secret() -> None:
    client = AsyncSpeedPix(app_key="key-1", app_secret=SECRET)
    config = resolve_config(app_key="key-1", app_secret=SECRET, env={})
    signer = GatewaySigner("key-1", SECRET)
    for text in (
        repr(client),
        str(client),
        repr(config),
        repr(signer),
        repr(SpeedPixProfile(signer)),
    ):
        assert SECRET not in text
    assert "key-1" in repr(client)


def test_http_client_and_transport_are_exclusive() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        AsyncSpeedPix(
            app_key="k",
            app_secret=SECRET,
            http_client=httpx.AsyncClient(),
            transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        )


def test_a_sync_http_client_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigurationError, match="AsyncClient"):
        AsyncSpeedPix(app_key="k", app_secret=SECRET, http_client=httpx.Client())  # type: ignore[arg-type]


def test_a_mistyped_client_option_names_the_closest_one() -> None:
    from speedpix_async import AsyncPortrait

    with pytest.raises(
        ConfigurationError,
        match=r"AsyncSpeedPix\(\) takes no option 'timout'; did you mean 'timeout'",
    ):
        AsyncSpeedPix("k", "s", timout=3)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match=r"AsyncPortrait\(\) takes no option 'max_retry'"):
        AsyncPortrait("http://h.test", "id", "token", max_retry=1)  # type: ignore[call-arg]
