"""Sample inputs for demos, examples and tests."""

from __future__ import annotations

from pathlib import Path

__all__ = ["make_sample_photo"]


def make_sample_photo(path: str | Path) -> Path:
    """Write a product shot — a shaded mug on a studio gradient — as a JPEG and return its path.

    The picture the guides' ``wf-white-background`` sample expects: one subject on a plain
    backdrop.
    """
    from PIL import Image, ImageDraw, ImageFilter

    target = Path(path)
    width, height = 900, 700
    backdrop = Image.linear_gradient("L").resize((width, height))
    photo = Image.composite(
        Image.new("RGB", (width, height), (70, 110, 160)),
        Image.new("RGB", (width, height), (120, 170, 215)),
        backdrop,
    )
    draw = ImageDraw.Draw(photo)
    draw.ellipse((260, 540, 640, 600), fill=(64, 102, 150))  # a soft shadow
    draw.rounded_rectangle((300, 200, 600, 570), radius=40, fill=(215, 60, 50))  # body
    draw.ellipse((300, 170, 600, 240), fill=(235, 95, 80))  # rim
    draw.ellipse((325, 182, 575, 228), fill=(120, 30, 25))  # opening
    draw.arc((540, 280, 700, 480), start=-90, end=90, fill=(215, 60, 50), width=34)  # handle
    draw.rectangle((330, 260, 360, 520), fill=(240, 120, 105))  # highlight
    photo.filter(ImageFilter.SMOOTH).save(target, format="JPEG", quality=90)
    return target
