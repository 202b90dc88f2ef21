"""The portrait ``configure`` keys, typed and checked against the AI Portrait guide's ranges.

Every key is optional: ``None`` leaves the service's default. A value out of range or of the
wrong type raises :class:`~speedpix_async.InputError` naming the key, the value and what is
allowed — before anything is sent. Float settings accept integers (the guide's own samples send
``first_denoising_strength = 1``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from .._errors import InputError

__all__ = [
    "ModelKind",
    "PortraitConfig",
    "TrainKind",
    "check_image_url",
    "check_model_id",
]

ModelKind = Literal["sd15", "sdxl"]
"""The model family: Stable Diffusion 1.5 (the default) or SDXL (activated per account)."""
TrainKind = Literal["sd15", "sdxl", "scene_lora"]
"""What to train: an SD 1.5 portrait LoRA, an SDXL portrait LoRA, or an SDXL scene LoRA."""

#: The literal template value for prompt (text-to-image) and scene-LoRA portraits.
T2I_TEMPLATE = "t2i_generate"
#: Longest model id accepted (the service's are 36 characters).
MODEL_ID_MAX = 64


def _setting(
    kind: type,
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    only: ModelKind | None = None,
) -> Any:
    """An optional config key: ``None`` (the service's default) or a value of ``kind``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        name = f"PortraitConfig.{attribute.name}"
        allowed = _allowed(kind, low, high, choices)
        ok: bool
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            # An int is finite however large (math.isfinite(10**400) overflows).
            ok = ok and (isinstance(value, int) or math.isfinite(value))
        else:
            ok = isinstance(value, str) and bool(value.strip())
        if ok and low is not None and high is not None:
            ok = low <= value <= high
        if ok and choices:
            ok = value in choices
        if not ok:
            raise InputError(f"{name} must be {allowed} (default {default!r}), got {value!r}")

    metadata = {"default": default, "only": only}
    return attrs.field(default=None, validator=check, metadata=metadata)


def _allowed(kind: type, low: float | None, high: float | None, choices: tuple[str, ...]) -> str:
    if choices:
        return "one of " + ", ".join(repr(c) for c in choices)
    if kind is bool:
        return "True or False"
    noun = {int: "an integer", float: "a number"}.get(kind, "a non-empty string")
    if low is not None and high is not None:
        return f"{noun} within {low:g}–{high:g}"
    return noun


@attrs.frozen(kw_only=True)
class PortraitConfig:
    """The ``configure`` of a portrait (``create``): every key the AI Portrait guide documents.

    Leave a key ``None`` for the service's default (shown in parentheses). Keys marked SD 1.5 or
    SDXL only apply to that model family; ``create`` refuses them with the other.
    """

    lora_weights: float | None = _setting(float, 0.9, low=0.5, high=1.0)
    """LoRA strength, 0.5–1.0 (0.9): higher looks more like the user, too high distorts."""
    first_denoising_strength: float | None = _setting(float, 0.45, low=0.0, high=1.0)
    """Strength of the first reconstruction, 0–1 (0.45)."""
    second_denoising_strength: float | None = _setting(float, 0.3, low=0.0, high=1.0)
    """Strength of the second reconstruction, 0–1 (0.30)."""
    more_like_me: float | None = _setting(float, "0.5 SD 1.5 / 0.6 SDXL", low=0.0, high=1.0)
    """Portrait merging ratio, 0–1 (0.50 SD 1.5, 0.60 SDXL)."""
    crop_face_preprocess: bool | None = _setting(bool, True)
    """Crop before reconstruction (True); recommended for large images."""
    apply_face_fusion_before: bool | None = _setting(bool, True)
    """First portrait merging (True)."""
    apply_face_fusion_after: bool | None = _setting(bool, True)
    """Second portrait merging (True)."""
    color_shift_middle: bool | None = _setting(bool, True)
    """First colour correction (True)."""
    color_shift_last: bool | None = _setting(bool, True)
    """Second colour correction (True)."""
    background_restore: bool | None = _setting(bool, False)
    """Reconstruct the background (False): more natural, slower, changes the background."""
    skin_retouching_bool: bool | None = _setting(bool, False)
    """Skin smoothing (False)."""
    photo_enhancement_bool: bool | None = _setting(bool, True)
    """Portrait restoration or super resolution (True)."""
    photo_enhancement_method: Literal["photo_fix", "super_resolution"] | None = _setting(
        str, "photo_fix", choices=("photo_fix", "super_resolution")
    )
    """``photo_fix`` (restoration) or ``super_resolution`` (keeps more of the original)."""
    makeup_transfer: bool | None = _setting(bool, False)
    """Transfer the template's makeup (False)."""
    makeup_transfer_ratio: float | None = _setting(float, 0.5, low=0.0, high=1.0)
    """Strength of the makeup transfer, 0–1 (0.5)."""
    face_shape_match: bool | None = _setting(bool, False, only="sd15")
    """SD 1.5: adapt the face shape to the user (False)."""
    ipa_control: bool | None = _setting(bool, False)
    """IP-Adapter control (False): more similar, more sensitive to the reference."""
    ipa_control_only: bool | None = _setting(bool, False)
    """Create without training, from ``ipa_image_path`` alone (False)."""
    ipa_image_path: str | None = _setting(str, None)
    """The reference portrait's URL; required with ``ipa_control_only``."""
    ipa_weight: float | None = _setting(float, 0.5, low=0.0, high=1.0)
    """IP-Adapter strength, 0–1 (0.5)."""
    style_name: Literal["Realistic", "Anime"] | None = _setting(
        str, "Realistic", choices=("Realistic", "Anime"), only="sd15"
    )
    """SD 1.5: ``Realistic`` or ``Anime``."""
    lcm_accelerate: bool | None = _setting(bool, False)
    """LCM acceleration (False)."""
    sharp_ratio: float | None = _setting(float, 0.15, low=0.0, high=1.0)
    """Sharpening, 0–1 (0.15)."""
    t2i_prompt: str | None = _setting(str, None)
    """A prompt: generate the scene from text (no template needed)."""
    first_diffusion_steps: int | None = _setting(int, 50, low=20, high=50, only="sdxl")
    """SDXL: steps of the first diffusion, 20–50 (50)."""
    second_diffusion_steps: int | None = _setting(int, 30, low=20, high=50, only="sdxl")
    """SDXL: steps of the second diffusion, 20–50 (30)."""
    scene_id: str | None = _setting(str, None, only="sdxl")
    """SDXL: a scene LoRA (the model id a ``scene_lora`` training returned)."""

    def __attrs_post_init__(self) -> None:
        if self.ipa_control_only and not self.ipa_image_path:
            raise InputError(
                "PortraitConfig.ipa_control_only needs ipa_image_path: the URL of the reference "
                "portrait to create from"
            )
        if self.ipa_image_path is not None:
            check_image_url("PortraitConfig.ipa_image_path", self.ipa_image_path)

    @classmethod
    def of(cls, value: PortraitConfig | Mapping[str, Any] | None) -> PortraitConfig:
        """A config from a ``PortraitConfig``, a mapping of the documented keys (as the Go
        guide's ``map[string]interface{}``) or None."""
        if value is None:
            return cls()
        if isinstance(value, PortraitConfig):
            return value
        if not isinstance(value, Mapping):
            raise InputError(
                f"config must be a PortraitConfig or a dict of its keys, got {type(value).__name__}"
            )
        known = {field.name for field in attrs.fields(cls)}
        unknown = sorted(str(key) for key in value if key not in known)
        if unknown:
            close = difflib.get_close_matches(unknown[0], known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"config has unknown keys {unknown}{hint}; the documented keys are "
                f"{', '.join(sorted(known))}"
            )
        return cls(**value)

    def check_for(self, model: str) -> None:
        """Refuse keys of the other model family."""
        for field in attrs.fields(type(self)):
            only = field.metadata.get("only")
            if only is not None and only != model and getattr(self, field.name) is not None:
                family = {"sd15": "SD 1.5", "sdxl": "SDXL"}[only]
                raise InputError(
                    f"PortraitConfig.{field.name} applies to {family} only; pass "
                    f"kind={only!r} or leave it out"
                )

    def to_wire(self) -> dict[str, Any]:
        """The set keys, as the ``configure`` object (sorted, as the Go SDK sends them)."""
        return {
            field.name: getattr(self, field.name)
            for field in sorted(attrs.fields(type(self)), key=lambda f: f.name)
            if getattr(self, field.name) is not None
        }


def check_image_url(name: str, value: Any) -> str:
    """An image the service downloads: an http(s) URL."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must be an image URL (http:// or https://), got {value!r}")
    if not value.lower().startswith(("http://", "https://")):
        raise InputError(
            f"{name} must be an http(s) URL the service can download, got {value[:80]!r}; "
            "upload local files first (for example with a SpeedPix client's files.create)"
        )
    if any(ch.isspace() for ch in value):
        raise InputError(f"{name} contains whitespace: {value[:80]!r}")
    return value


def check_model_id(name: str, value: Any) -> str:
    """A model id returned by ``train``: a short string without whitespace."""
    if not isinstance(value, str) or not value:
        raise InputError(f"{name} must be a model id (the string train() returned), got {value!r}")
    if len(value) > MODEL_ID_MAX or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise InputError(
            f"{name} {value[:80]!r} is not a model id: model ids are up to {MODEL_ID_MAX} "
            "visible characters (the service's are 36); copy it from the training result"
        )
    return value
