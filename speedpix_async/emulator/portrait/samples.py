"""Sample pictures the emulator serves at ``/_emulator/samples/<name>`` (and can "download"
itself, being the only host it reaches).

Names (``.png`` or ``.jpg``):

* ``portrait-<person>-<variant>`` — one face of ``person`` (0–5), posed by ``variant``;
* ``template-<faces>`` — a template scene with ``faces`` faces;
* ``scene-<n>`` — a scene without faces (scene-LoRA training);

each optionally followed by ``-profile`` (a face in profile), ``-border`` (a face touching the
left edge), ``-small`` (400×400, below the 512×512 the service needs) or ``-pair`` (two faces).
Anything else is not found.
"""

from __future__ import annotations

import re

from .faces import draw_portrait, draw_template

__all__ = ["sample_picture"]

_NAME = re.compile(
    r"^(?P<kind>portrait|template|scene)-(?P<a>\d{1,2})(?:-(?P<b>\d{1,3}))?"
    r"(?P<flags>(?:-(?:profile|border|small|pair))*)\.(?P<ext>png|jpg)$"
)


def sample_picture(name: str) -> tuple[bytes, str] | None:
    """(bytes, content type) of a sample picture, or None for an unknown name."""
    match = _NAME.match(name)
    if match is None:
        return None
    flags = set(filter(None, match["flags"].split("-")))
    size = 400 if "small" in flags else 768
    image_format = "PNG" if match["ext"] == "png" else "JPEG"
    first = int(match["a"])
    if match["kind"] == "template":
        data = draw_template(
            first, size=size, at_border="border" in flags, image_format=image_format
        )
    else:
        data = draw_portrait(
            first % 6,
            variant=int(match["b"] or 0),
            faces=0 if match["kind"] == "scene" else (2 if "pair" in flags else 1),
            frontal="profile" not in flags,
            size=size,
            at_border="border" in flags,
            image_format=image_format,
        )
    return data, "image/png" if image_format == "PNG" else "image/jpeg"
