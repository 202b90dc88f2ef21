"""Faces for the AI Portrait emulator: sample pictures it draws, and the rule it reads them by.

The rule (deterministic, and the one tests and users can rely on):

* A **face** is a filled ellipse in one of the six skin tones of :data:`SKIN_TONES`; the tone
  identifies the **person** (tone 0 is person 0, …). Pictures without those tones hold no face —
  the emulator recognises faces only in pictures drawn by :func:`draw_portrait` and
  :func:`draw_template` (also served at ``/_emulator/samples/…``).
* A face narrower than :data:`FRONTAL_RATIO` × its height is seen in profile (``frontal`` false).
* A face touching the picture's border cannot be encoded (check code 5; as a template face it
  fails face fusion, HTTP 469).
* A picture smaller than 512×512 fails face detection (check code 4), as the guide requires
  larger pictures.

Faces are found on a downscaled copy of the picture, by colour distance, so JPEG and resizing
do not change the result.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = [
    "FRONTAL_RATIO",
    "MIN_SIDE",
    "SKIN_TONES",
    "Face",
    "FaceReadError",
    "draw_portrait",
    "draw_template",
    "find_faces",
]

#: Skin tones, one per person (RGB), far enough apart that JPEG noise cannot confuse them.
SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (236, 188, 150),
    (198, 134, 86),
    (141, 85, 36),
    (255, 224, 196),
    (224, 160, 120),
    (168, 108, 64),
)
#: A face narrower than this share of its height is in profile.
FRONTAL_RATIO = 0.6
#: Pictures must be at least this many pixels on each side for detection to work.
MIN_SIDE = 512
#: Faces are searched on a copy this many pixels wide.
_GRID = 96
#: A grid cell belongs to a face when its colour is this close to a skin tone (RGB distance).
_CLOSE = 22
#: Blobs smaller than this many grid cells are noise, not faces.
_MIN_CELLS = 6


class FaceReadError(Exception):
    """The picture cannot be decoded."""


@attrs.frozen
class Face:
    person: int
    """Which skin tone, i.e. which person."""
    box: tuple[int, int, int, int]
    """left, top, right, bottom, in picture pixels."""
    frontal: bool
    touches_border: bool


def _pil() -> Any:
    from PIL import Image, ImageDraw

    return Image, ImageDraw


def _backdrop(width: int, height: int, seed: int) -> Any:
    image_mod, _ = _pil()
    tones = [(64, 96, 140), (40, 120, 100), (110, 110, 130), (70, 70, 90)]
    top = tones[seed % len(tones)]
    bottom = tuple(max(0, c - 40) for c in top)
    gradient = image_mod.linear_gradient("L").resize((width, height))
    return image_mod.composite(
        image_mod.new("RGB", (width, height), bottom),
        image_mod.new("RGB", (width, height), top),
        gradient,
    )


def _draw_face(draw: Any, box: tuple[int, int, int, int], person: int, frontal: bool) -> None:
    left, top, right, bottom = box
    tone = SKIN_TONES[person % len(SKIN_TONES)]
    if not frontal:  # a profile: a narrower face, one eye
        middle = (left + right) // 2
        half = int((right - left) * 0.28)
        left, right = middle - half, middle + half
    draw.ellipse((left, top, right, bottom), fill=tone)
    eye = max(3, (right - left) // 10)
    y = top + (bottom - top) * 2 // 5
    xs = (
        [left + (right - left) // 3, left + (right - left) * 2 // 3]
        if frontal
        else [left + (right - left) * 2 // 3]
    )
    for x in xs:
        draw.ellipse((x - eye, y - eye, x + eye, y + eye), fill=(30, 30, 30))
    mouth = (bottom - top) * 3 // 4 + top
    draw.line(
        (left + (right - left) // 3, mouth, right - (right - left) // 3, mouth),
        fill=(150, 60, 60),
        width=max(2, eye // 2),
    )


def _encode(image: Any, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, quality=92) if image_format == "JPEG" else image.save(
        buffer, format=image_format
    )
    return buffer.getvalue()


def draw_portrait(
    person: int = 0,
    *,
    variant: int = 0,
    faces: int = 1,
    frontal: bool = True,
    size: int = 768,
    at_border: bool = False,
    image_format: str = "PNG",
) -> bytes:
    """A photo of ``person`` (``faces`` of them side by side; ``variant`` moves the pose a
    little), ``size`` pixels square. ``at_border`` pushes the face against the left edge."""
    _, image_draw = _pil()
    image = _backdrop(size, size, person + variant)
    draw = image_draw.Draw(image)
    count = max(0, faces)
    for index in range(count):
        width = size // (count + 2)
        centre = size * (index + 1) // (count + 1) + (variant % 5 - 2) * size // 60
        top = size // 4 + (variant % 3) * size // 40
        box = (centre - width // 2, top, centre + width // 2, top + int(width * 1.3))
        if at_border and index == 0:
            box = (0, box[1], box[2] - box[0], box[3])
        draw.rectangle((box[0] - width // 4, box[3], box[2] + width // 4, size), fill=(90, 60, 120))
        _draw_face(draw, box, person, frontal)
    return _encode(image, image_format)


def draw_template(
    faces: int = 1,
    *,
    size: int = 768,
    at_border: bool = False,
    image_format: str = "PNG",
) -> bytes:
    """A template: a scene with ``faces`` faces to be replaced (all of person 0's tone)."""
    return draw_portrait(
        0, variant=faces + 7, faces=faces, size=size, at_border=at_border, image_format=image_format
    )


#: The most pixels a picture may decode to (25 MP: a 5000×5000 photo). Checked from the header,
#: before decoding: a 151 KiB PNG of 1×80,000,000 pixels would otherwise cost gigabytes. Such a
#: picture "cannot be decoded" (check code 2; a template decode error).
MAX_PIXELS = 25_000_000


def find_faces(data: bytes) -> tuple[int, int, list[Face]]:
    """(width, height, faces) of a picture; raises :class:`FaceReadError` if it cannot be
    decoded, or would decode to more than :data:`MAX_PIXELS`.

    Remembered for the last few pictures: a portrait fan-out sends the same template again
    and again, and decoding and scanning it was a third of a create's CPU."""
    if len(data) > _REMEMBERED_SIZE:
        return _scan(data)
    width, height, faces = _faces_of(data)
    return width, height, list(faces)


#: Pictures up to this size are remembered by :func:`find_faces` (32 at most).
_REMEMBERED_SIZE = 2 << 20


@functools.lru_cache(maxsize=32)
def _faces_of(data: bytes) -> tuple[int, int, tuple[Face, ...]]:
    width, height, faces = _scan(data)
    return width, height, tuple(faces)


def _scan(data: bytes) -> tuple[int, int, list[Face]]:
    image_mod, _ = _pil()
    try:
        image = image_mod.open(io.BytesIO(data))
        columns, rows = image.size
        if columns * rows > MAX_PIXELS:
            raise FaceReadError(
                f"{columns}x{rows} is more than {MAX_PIXELS:,} pixels, the most decoded"
            )
        image.load()
    except FaceReadError:
        raise
    except Exception as exc:
        raise FaceReadError(str(exc)) from exc
    width, height = image.size
    grid_w = _GRID
    grid_h = max(1, round(_GRID * height / max(1, width)))
    small = image.convert("RGB").resize((grid_w, grid_h))
    pixels = small.load()
    owner: list[list[int]] = [[-1] * grid_w for _ in range(grid_h)]
    for y in range(grid_h):
        for x in range(grid_w):
            r, g, b = pixels[x, y]
            best, distance = -1, _CLOSE
            for person, (tr, tg, tb) in enumerate(SKIN_TONES):
                d = abs(r - tr) + abs(g - tg) + abs(b - tb)
                if d < distance:
                    best, distance = person, d
            owner[y][x] = best
    seen = [[False] * grid_w for _ in range(grid_h)]
    faces: list[Face] = []
    for y in range(grid_h):
        for x in range(grid_w):
            person = owner[y][x]
            if person < 0 or seen[y][x]:
                continue
            cells = _blob(owner, seen, x, y, person)
            if len(cells) < _MIN_CELLS:
                continue
            xs = [cx for cx, _ in cells]
            ys = [cy for _, cy in cells]
            left, right, top, bottom = min(xs), max(xs) + 1, min(ys), max(ys) + 1
            faces.append(
                Face(
                    person=person,
                    box=(
                        left * width // grid_w,
                        top * height // grid_h,
                        right * width // grid_w,
                        bottom * height // grid_h,
                    ),
                    frontal=(right - left) >= FRONTAL_RATIO * (bottom - top),
                    touches_border=left == 0 or top == 0 or right == grid_w or bottom == grid_h,
                )
            )
    faces.sort(key=lambda face: face.box[0])
    return width, height, faces


def _blob(
    owner: Sequence[list[int]], seen: list[list[bool]], x: int, y: int, person: int
) -> list[tuple[int, int]]:
    height, width = len(owner), len(owner[0])
    stack = [(x, y)]
    seen[y][x] = True
    cells = []
    while stack:
        cx, cy = stack.pop()
        cells.append((cx, cy))
        for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
            inside = 0 <= nx < width and 0 <= ny < height
            if inside and not seen[ny][nx] and owner[ny][nx] == person:
                seen[ny][nx] = True
                stack.append((nx, ny))
    return cells
