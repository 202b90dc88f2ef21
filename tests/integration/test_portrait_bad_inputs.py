"""AI Portrait: bad input gets the exact error class and a message that says what to change,
and nothing reaches the service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from speedpix_async import AsyncPortrait, ConfigurationError, InputError, PortraitConfig
from speedpix_async.emulator import Emulator

URL = "https://photos.test/a.jpg"
URLS = [URL, "https://photos.test/b.jpg"]
TEMPLATE = "https://photos.test/template.jpg"

Call = Callable[[AsyncPortrait], Awaitable[Any]]

CALLS: list[tuple[str, Call, str]] = [
    ("check-a-string", lambda p: p.check_images(URL), "wrap a single URL in a list"),
    ("check-empty", lambda p: p.check_images([]), "give at least one image URL"),
    ("check-a-path", lambda p: p.check_images(["/home/me/a.jpg"]), "upload local files first"),
    ("check-whitespace", lambda p: p.check_images(["https://x.test/a b.jpg"]), "whitespace"),
    ("check-none", lambda p: p.check_images([None]), r"images\[0\] must be an image URL"),  # type: ignore[list-item]
    ("train-too-many", lambda p: p.train([URL] * 21), "at most 20"),
    ("train-kind", lambda p: p.train(URLS, kind="sd21"), "kind must be one of"),  # type: ignore[arg-type]
    (
        "scene-without-prompts",
        lambda p: p.train(URLS, kind="scene_lora"),
        "one prompt per photo",
    ),
    (
        "scene-prompt-count",
        lambda p: p.train(URLS, kind="scene_lora", prompts=["beach"]),
        "2 photos, 1 prompts",
    ),
    (
        "prompts-for-sd15",
        lambda p: p.train(URLS, prompts=["a", "b"]),
        "is for kind='scene_lora' only",
    ),
    ("train-config-type", lambda p: p.train(URLS, config=[("a", 1)]), "dict with string keys"),  # type: ignore[arg-type]
    ("create-no-model", lambda p: p.create(TEMPLATE), "pass model_id="),
    (
        "create-both",
        lambda p: p.create(TEMPLATE, model_id="m", model_ids=["a", "b"]),
        "not both",
    ),
    ("create-group-of-one", lambda p: p.create(TEMPLATE, model_ids=["a"]), "two or more"),
    ("create-ids-string", lambda p: p.create(TEMPLATE, model_ids="ab"), "list of model ids"),
    ("create-empty-id", lambda p: p.create(TEMPLATE, model_id=""), "the string train"),
    ("create-long-id", lambda p: p.create(TEMPLATE, model_id="m" * 65), "up to 64"),
    ("create-no-template", lambda p: p.create(model_id="m"), "template_image is required"),
    ("create-kind", lambda p: p.create(TEMPLATE, model_id="m", kind="xl"), "kind must be"),  # type: ignore[arg-type]
    (
        "config-unknown-key",
        lambda p: p.create(TEMPLATE, model_id="m", config={"lora_weight": 0.8}),
        "did you mean 'lora_weights'",
    ),
    (
        "config-range",
        lambda p: p.create(TEMPLATE, model_id="m", config={"more_like_me": 1.5}),
        "more_like_me must be a number within 0–1",
    ),
    (
        "config-family",
        lambda p: p.create(TEMPLATE, model_id="m", kind="sdxl", config={"style_name": "Anime"}),
        "pass kind='sd15'",
    ),
    (
        "reference-only-without-url",
        lambda p: p.create(TEMPLATE, config=PortraitConfig(ipa_control_only=False)),
        "pass model_id=",
    ),
    ("config-type", lambda p: p.create(TEMPLATE, model_id="m", config=3), "PortraitConfig"),  # type: ignore[arg-type]
    ("job-id-string", lambda p: p.jobs.get("12"), "integer train"),  # type: ignore[arg-type]
    ("job-id-negative", lambda p: p.jobs.get(-1), "32-bit"),
    ("job-id-bool", lambda p: p.jobs.wait(True), "integer train"),
    ("wait-timeout", lambda p: p.jobs.wait(1, timeout=-1), "timeout"),
    ("wait-callback", lambda p: p.jobs.wait(1, on_progress="print"), "on_progress"),  # type: ignore[arg-type]
    ("wait-interval", lambda p: p.jobs.wait(1, polling_interval=0), "polling_interval"),
]


@pytest.mark.parametrize(("name", "call", "match"), CALLS, ids=[c[0] for c in CALLS])
async def test_bad_calls_are_refused_before_anything_is_sent(
    name: str, call: Call, match: str
) -> None:
    emulator = Emulator()
    async with emulator.portrait_client() as portrait:
        with pytest.raises(InputError, match=match) as caught:
            await call(portrait)
    assert type(caught.value) is InputError
    assert emulator.stats.snapshot()["requests"]["total"] == 0


CONSTRUCTION: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
    ("nothing-set", {}, {}, "PAI_PORTRAIT_APP_ID and PAI_PORTRAIT_TOKEN"),
    ("no-host", {"app_id": "a", "token": "token-value"}, {}, "PAI_PORTRAIT_HOST"),
    (
        "empty-host",
        {"host": " ", "app_id": "a", "token": "token-value"},
        {},
        "must be a URL such as",
    ),
    ("id-without-token", {"host": "https://x.test", "app_id": "a"}, {}, "token"),
    (
        "half-from-env",
        {"host": "https://x.test", "app_id": "a"},
        {"PAI_PORTRAIT_TOKEN": "t"},
        "token",
    ),
    (
        "bad-scheme",
        {"host": "ftp://x.test", "app_id": "a", "token": "token-value"},
        {},
        "http",
    ),
    (
        "client-and-transport",
        {"host": "https://x.test", "app_id": "a", "token": "token-value", "http_client": object()},
        {},
        "httpx.AsyncClient",
    ),
    (
        "negative-retries",
        {"host": "https://x.test", "app_id": "a", "token": "token-value", "max_retries": -1},
        {},
        "max_retries",
    ),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "env", "match"), CONSTRUCTION, ids=[c[0] for c in CONSTRUCTION]
)
def test_bad_construction_names_the_setting(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    kwargs: dict[str, Any],
    env: dict[str, str],
    match: str,
) -> None:
    for variable in ("PAI_PORTRAIT_HOST", "PAI_PORTRAIT_APP_ID", "PAI_PORTRAIT_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=match) as caught:
        AsyncPortrait(**kwargs)
    assert "token-value" not in str(caught.value)


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAI_PORTRAIT_HOST", "portrait.example.com/prefix/")
    monkeypatch.setenv("PAI_PORTRAIT_APP_ID", "env-app")
    monkeypatch.setenv("PAI_PORTRAIT_TOKEN", "env-token-value")
    client = AsyncPortrait()
    assert client.host == "http://portrait.example.com/prefix"
    assert client.app_id == "env-app"
    assert "env-token-value" not in repr(client)
