"""``PortraitConfig``: every documented key, its boundaries, its type and its model family; and
the client configuration from arguments or ``PAI_PORTRAIT_*``."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from speedpix_async import AsyncPortrait, ConfigurationError, InputError, PortraitConfig
from speedpix_async.portrait.config import resolve_portrait_config

#: Every key of the guide's configure tables: (allowed low, allowed high) for numbers.
RANGES: dict[str, tuple[float, float]] = {
    "lora_weights": (0.5, 1.0),
    "first_denoising_strength": (0.0, 1.0),
    "second_denoising_strength": (0.0, 1.0),
    "more_like_me": (0.0, 1.0),
    "makeup_transfer_ratio": (0.0, 1.0),
    "ipa_weight": (0.0, 1.0),
    "sharp_ratio": (0.0, 1.0),
    "first_diffusion_steps": (20, 50),
    "second_diffusion_steps": (20, 50),
}
BOOLS = [
    "crop_face_preprocess",
    "apply_face_fusion_before",
    "apply_face_fusion_after",
    "color_shift_middle",
    "color_shift_last",
    "background_restore",
    "skin_retouching_bool",
    "photo_enhancement_bool",
    "makeup_transfer",
    "face_shape_match",
    "ipa_control",
    "ipa_control_only",
    "lcm_accelerate",
]
CHOICES = {
    "photo_enhancement_method": ("photo_fix", "super_resolution"),
    "style_name": ("Realistic", "Anime"),
}
STRINGS = ["ipa_image_path", "t2i_prompt", "scene_id"]


def test_the_tests_cover_every_key() -> None:
    keys = {field.name for field in attrs.fields(PortraitConfig)}
    assert keys == set(RANGES) | set(BOOLS) | set(CHOICES) | set(STRINGS)


def _config(key: str, value: Any) -> PortraitConfig:
    extra = {"ipa_image_path": "https://x.test/ref.png"} if key == "ipa_control_only" else {}
    return PortraitConfig(**{key: value, **extra})


@pytest.mark.parametrize("key", sorted(RANGES))
def test_numbers_accept_their_range_and_refuse_beyond_it(key: str) -> None:
    low, high = RANGES[key]
    integer = isinstance(low, int) and not isinstance(low, float)
    for ok in (low, high, (low + high) / 2 if not integer else (low + high) // 2):
        assert getattr(_config(key, ok), key) == ok
    step = 1 if integer else 0.01
    for bad in (low - step, high + step):
        with pytest.raises(InputError) as info:
            _config(key, bad)
        message = str(info.value)
        assert f"PortraitConfig.{key}" in message
        assert repr(bad) in message
        assert f"{low:g}–{high:g}" in message


@pytest.mark.parametrize("key", [k for k in sorted(RANGES) if "steps" not in k])
def test_float_settings_accept_integers_as_the_guide_sends_them(key: str) -> None:
    _, high = RANGES[key]
    assert getattr(_config(key, int(high)), key) == int(high)


@pytest.mark.parametrize("key", sorted(RANGES))
@pytest.mark.parametrize(
    "bad", [True, "0.5", float("nan"), float("inf"), 10**400, -(10**400), None], ids=repr
)
def test_numbers_refuse_other_types(key: str, bad: Any) -> None:
    if bad is None:
        assert getattr(PortraitConfig(**{key: None}), key) is None  # None: the service default
        return
    with pytest.raises(InputError, match=f"PortraitConfig.{key}"):
        _config(key, bad)


def test_steps_must_be_integers() -> None:
    with pytest.raises(InputError, match="an integer within 20–50"):
        PortraitConfig(first_diffusion_steps=30.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", BOOLS)
def test_switches_take_booleans_only(key: str) -> None:
    assert getattr(_config(key, True), key) is True
    assert getattr(_config(key, False), key) is False
    for bad in (1, 0, "true"):
        with pytest.raises(InputError, match=f"PortraitConfig.{key} must be True or False"):
            _config(key, bad)


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_choices(key: str) -> None:
    for choice in CHOICES[key]:
        assert getattr(_config(key, choice), key) == choice
    with pytest.raises(InputError, match="one of"):
        _config(key, CHOICES[key][0].upper() + "_X")


@pytest.mark.parametrize("key", STRINGS)
def test_strings_must_not_be_empty(key: str) -> None:
    with pytest.raises(InputError, match=f"PortraitConfig.{key}"):
        _config(key, "  ")


def test_reference_only_needs_a_reference_url() -> None:
    with pytest.raises(InputError, match="needs ipa_image_path"):
        PortraitConfig(ipa_control_only=True)
    with pytest.raises(InputError, match="http"):
        PortraitConfig(ipa_image_path="/local/ref.png")


def test_families_and_mappings() -> None:
    PortraitConfig(face_shape_match=True, style_name="Anime").check_for("sd15")
    PortraitConfig(first_diffusion_steps=30, scene_id="s").check_for("sdxl")
    with pytest.raises(InputError, match=r"style_name applies to SD 1\.5 only"):
        PortraitConfig(style_name="Anime").check_for("sdxl")
    with pytest.raises(InputError, match="scene_id applies to SDXL only"):
        PortraitConfig(scene_id="s").check_for("sd15")
    assert PortraitConfig.of({"lora_weights": 0.9}) == PortraitConfig(lora_weights=0.9)
    assert PortraitConfig.of(None) == PortraitConfig()
    with pytest.raises(InputError, match=r"unknown keys \['lora_weight'\]"):
        PortraitConfig.of({"lora_weight": 0.9})
    with pytest.raises(InputError, match="PortraitConfig or a dict"):
        PortraitConfig.of([("lora_weights", 0.9)])  # type: ignore[arg-type]


def test_to_wire_sends_the_set_keys_sorted() -> None:
    config = PortraitConfig(sharp_ratio=0.2, lora_weights=1, background_restore=False)
    assert list(config.to_wire().items()) == [
        ("background_restore", False),
        ("lora_weights", 1),
        ("sharp_ratio", 0.2),
    ]
    assert PortraitConfig().to_wire() == {}


def test_client_configuration_pairs_and_names_the_variables() -> None:
    env = {
        "PAI_PORTRAIT_HOST": "ai-service.example.com/",
        "PAI_PORTRAIT_APP_ID": "app",
        "PAI_PORTRAIT_TOKEN": "tok",
    }
    config = resolve_portrait_config(env=env)
    assert config.host == "http://ai-service.example.com"  # a bare host means http://
    assert (config.app_id, config.token) == ("app", "tok")
    assert "tok" not in repr(config)
    assert resolve_portrait_config(host="https://h.test", app_id="a", token="t", env={}).host == (
        "https://h.test"
    )
    with pytest.raises(ConfigurationError, match="PAI_PORTRAIT_HOST"):
        resolve_portrait_config(app_id="a", token="t", env={})
    with pytest.raises(ConfigurationError, match="PAI_PORTRAIT_APP_ID and PAI_PORTRAIT_TOKEN"):
        resolve_portrait_config(host="h.test", env={})
    with pytest.raises(ConfigurationError, match="token was given but app_id was not"):
        resolve_portrait_config(host="h.test", token="t", env={})
    with pytest.raises(ConfigurationError, match="PAI_PORTRAIT_APP_ID is set but"):
        resolve_portrait_config(env={"PAI_PORTRAIT_HOST": "h", "PAI_PORTRAIT_APP_ID": "a"})
    with pytest.raises(ConfigurationError, match="scheme"):
        resolve_portrait_config(host="ftp://h.test", app_id="a", token="t", env={})
    portrait = AsyncPortrait("h.test", "app-7", "secret-token")
    assert "secret-token" not in repr(portrait)
    assert "app-7" in repr(portrait)
