"""Pictures the AI Portrait emulator creates: real images drawn with Pillow.

A portrait keeps the template's scene and puts each model's person in place of a template face
(left to right); a prompt portrait (``t2i_prompt`` / a scene LoRA) draws a new scene with the
prompt written on it. The faces follow the emulator's face rule (see :mod:`.faces`), so a
created portrait can itself be checked.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from typing import Any

from .faces import SKIN_TONES, Face, draw_portrait, find_faces

__all__ = ["render_portrait"]

#: Size of a portrait generated from a prompt (portrait orientation).
PROMPT_SIZE = (768, 1024)


def _pil() -> Any:
    from PIL import Image, ImageDraw, ImageEnhance, ImageFont

    return Image, ImageDraw, ImageEnhance, ImageFont


def _paint_face(draw: Any, face: Face, person: int) -> None:
    left, top, right, bottom = face.box
    # The detected box is a little inside the template's face: cover all of it.
    grow_x, grow_y = max(2, (right - left) // 25), max(2, (bottom - top) // 25)
    left, top, right, bottom = left - grow_x, top - grow_y, right + grow_x, bottom + grow_y
    tone = SKIN_TONES[person % len(SKIN_TONES)]
    draw.ellipse((left, top, right, bottom), fill=tone)
    eye = max(3, (right - left) // 10)
    y = top + (bottom - top) * 2 // 5
    for x in (left + (right - left) // 3, left + (right - left) * 2 // 3):
        draw.ellipse((x - eye, y - eye, x + eye, y + eye), fill=(30, 30, 30))
    mouth = top + (bottom - top) * 3 // 4
    draw.arc(
        (left + (right - left) // 3, mouth - eye, right - (right - left) // 3, mouth + eye),
        start=0,
        end=180,
        fill=(150, 60, 60),
        width=max(2, eye // 2),
    )


def _caption(image: Any, text: str) -> None:
    _, image_draw, _, image_font = _pil()
    draw = image_draw.Draw(image)
    try:
        font = image_font.load_default(size=28)
    except TypeError:  # Pillow < 10.1
        font = image_font.load_default()
    lines = textwrap.wrap(text, width=44)[:4]
    y = image.height - 40 * len(lines) - 24
    for line in lines:
        draw.text((24, y), line, font=font, fill=(255, 255, 255))
        y += 40


def render_portrait(
    *,
    template: bytes | None,
    template_faces: Sequence[Face],
    persons: Sequence[int],
    prompt: str | None,
    style: str | None = None,
) -> bytes:
    """The created portrait as PNG bytes (the service's format is not documented)."""
    image_mod, image_draw, image_enhance, _ = _pil()
    if template is not None:
        image = image_mod.open(io.BytesIO(template)).convert("RGB")
        draw = image_draw.Draw(image)
        for face, person in zip(template_faces, persons, strict=False):
            _paint_face(draw, face, person)
    else:
        source = draw_portrait(0, variant=11, faces=max(1, len(persons)))
        image = image_mod.open(io.BytesIO(source)).convert("RGB")
        draw = image_draw.Draw(image)
        for face, person in zip(find_faces(source)[2], persons, strict=False):
            _paint_face(draw, face, person)
        image = image.resize(PROMPT_SIZE)
    # A touch of "enhancement", so the output is visibly a new picture.
    image = image_enhance.Color(image).enhance(1.15)
    if style == "Anime":
        image = image.quantize(colors=24).convert("RGB")
    if prompt:
        _caption(image, prompt)
    buffer = io.BytesIO()
    # The fastest zlib level: the picture is twice as large and made twice as fast, and a
    # create's CPU is what bounds a portrait fan-out on one machine.
    image.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()
