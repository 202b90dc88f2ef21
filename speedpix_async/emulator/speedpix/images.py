"""Image workflows that produce real pictures with Pillow .

* ``wf-white-background`` — the guides' sample: finds the subject of ``image`` (everything that
  differs from the border colour), centres it on a white canvas and writes ``text`` under it.
  Custom outputs ``images`` (a file object, read as ``output["images"]["url"]``) and ``info``.
* ``wf-text-to-image`` — renders ``prompt`` on a deterministic backdrop of ``width``×``height``.
* ``wf-image-to-image`` — restyles ``image`` by ``strength`` and captions it with ``prompt``.
  These two are published without custom outputs, so results come in the default ``images``
  URL list (as in the Go guide's ``Images []string`` examples).
* ``wf-image-to-video`` — an animated GIF zooming into ``image`` (``duration``, ``fps``,
  ``motion_strength``); custom output ``video`` is a file object of type ``video``.

Input images are URLs of the emulator's own store (the only host it can reach) or ``data:``
URIs (docs/protocol.md, "File inputs").
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from typing import TYPE_CHECKING, Any

from .._store import StoreError
from .workflows import InvalidInput, TaskContext, WorkflowFailure, WorkflowRegistry

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["register_image_workflows"]

WHITE_CANVAS = 1024
#: Share of the canvas the subject may fill.
SUBJECT_FILL = 0.8
#: A pixel belongs to the subject when some channel differs from the border colour by more.
SUBJECT_THRESHOLD = 40


def _pil() -> Any:
    try:
        from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise WorkflowFailure(
            "Pillow is not installed in the emulator (pip install 'speedpix-async[emulator]')",
            code="EmulatorMisconfigured",
        ) from exc
    return Image, ImageDraw, ImageFilter, ImageFont, ImageOps


def _font(size: int) -> Any:
    _, _, _, image_font, _ = _pil()
    try:
        return image_font.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        return image_font.load_default()


def _load_image(ctx: TaskContext, inputs: dict[str, Any], key: str = "image") -> PILImage.Image:
    image_mod = _pil()[0]
    value = inputs.get(key)
    if not isinstance(value, str) or not value:
        raise WorkflowFailure(f"input {key!r} must be an image URL", code="InvalidInputImage")
    try:
        data = ctx.read_input(value)
    except StoreError as exc:
        raise WorkflowFailure(
            f"cannot download input {key!r}: {exc.message}", code="InputDownloadFailed"
        ) from exc
    try:
        image: PILImage.Image = image_mod.open(io.BytesIO(data))
        image.load()
    except Exception as exc:
        raise WorkflowFailure(
            f"input {key!r} is not a decodable image ({exc})", code="InvalidInputImage"
        ) from exc
    return image


def _file_object(ctx: TaskContext, image: PILImage.Image, *, name: str) -> dict[str, Any]:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    url = ctx.save_output(buffer.getvalue(), filename=name, content_type="image/png")
    object_key = url.split("/_store/", 1)[1].split("?", 1)[0]
    return {
        "url": url,
        "type": "image",
        "filename": object_key.rsplit("/", 1)[-1],
        "object_key": object_key,
        "format": "png",
        "width": image.width,
        "height": image.height,
    }


def _number(inputs: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = inputs.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidInput(f"{key} must be a number between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _require_image_url(inputs: dict[str, Any]) -> None:
    value = inputs.get("image")
    if not isinstance(value, str) or not value.startswith(("http://", "https://", "data:")):
        raise InvalidInput("image is required: an image URL (upload the file first) or a data: URI")


def _caption(
    draw: Any, text: str, *, width: int, top: int, size: int, fill: tuple[int, int, int]
) -> None:
    font = _font(size)
    lines = textwrap.wrap(text, width=max(8, int(width / (size * 0.6))))[:3]
    y = top
    for line in lines:
        box = draw.textbbox((0, 0), line, font=font)
        draw.text(((width - (box[2] - box[0])) / 2, y), line, font=font, fill=fill)
        y += int(size * 1.3)


# ----------------------------------------------------------------------------- workflows


def white_background(inputs: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    image_mod, image_draw, image_filter, _, image_ops = _pil()
    from PIL import ImageChops

    source = image_ops.exif_transpose(_load_image(ctx, inputs)).convert("RGB")
    # The subject is whatever differs clearly from the backdrop. The backdrop is modelled per
    # row, blending from the left edge's colour to the right edge's, which also covers the
    # linear gradients of studio shots.
    width, height = source.size
    band = max(1, width // 100)
    left = source.crop((0, 0, band, height)).resize((1, height)).resize((width, height))
    right = (
        source.crop((width - band, 0, width, height)).resize((1, height)).resize((width, height))
    )
    # 0 at the left edge rising to 255 at the right edge.
    across = image_mod.linear_gradient("L").transpose(image_mod.Transpose.TRANSPOSE)
    across = across.resize((width, height))
    backdrop = image_mod.composite(right, left, across)
    red, green, blue = ImageChops.difference(source, backdrop).split()
    strongest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    # Eroded by a pixel so compression fringes at the subject's edge do not come along.
    difference = strongest.point(lambda value: 255 if value > SUBJECT_THRESHOLD else 0).filter(
        image_filter.MinFilter(3)
    )
    box = difference.getbbox() or (0, 0, source.width, source.height)
    subject = source.crop(box)
    mask = difference.crop(box)
    canvas = image_mod.new("RGB", (WHITE_CANVAS, WHITE_CANVAS), (255, 255, 255))
    room = int(WHITE_CANVAS * SUBJECT_FILL * 0.85)
    scale = min(room / subject.width, room / subject.height)
    size = (max(1, int(subject.width * scale)), max(1, int(subject.height * scale)))
    subject = subject.resize(size)
    mask = mask.resize(size)
    left = (WHITE_CANVAS - size[0]) // 2
    top = int(WHITE_CANVAS * 0.06)
    canvas.paste(subject, (left, top), mask)
    text = str(inputs.get("text") or "")
    if text:
        _caption(
            image_draw.Draw(canvas),
            text,
            width=WHITE_CANVAS,
            top=top + size[1] + 24,
            size=40,
            fill=(40, 40, 40),
        )
    file_object = _file_object(ctx, canvas, name="white_background.png")
    return {
        "images": file_object,
        # Describes the output: where the subject (found as box in the input) now sits.
        "info": (
            f"subject found at {box[2] - box[0]}x{box[3] - box[1]} px, placed at "
            f"{size[0]}x{size[1]} px on a {WHITE_CANVAS}x{WHITE_CANVAS} white canvas"
        ),
    }


def _validate_text_to_image(inputs: dict[str, Any]) -> None:
    prompt = inputs.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("prompt is required")
    for key in ("width", "height"):
        _number(inputs, key, 512, 64, 2048)
    _number(inputs, "steps", 20, 1, 150)
    _number(inputs, "guidance_scale", 7.5, 0, 30)


def text_to_image(inputs: dict[str, Any], ctx: TaskContext) -> None:
    image_mod, image_draw, _, _, _ = _pil()
    width = int(_number(inputs, "width", 512, 64, 2048))
    height = int(_number(inputs, "height", 512, 64, 2048))
    seed = hashlib.sha256(str(inputs["prompt"]).encode()).digest()
    top, bottom = tuple(seed[0:3]), tuple(seed[3:6])
    gradient = image_mod.linear_gradient("L").resize((width, height))
    image = image_mod.composite(
        image_mod.new("RGB", (width, height), bottom),
        image_mod.new("RGB", (width, height), top),
        gradient,
    )
    draw = image_draw.Draw(image)
    for index in range(6):
        x, y, r = (
            seed[6 + index] / 255 * width,
            seed[12 + index] / 255 * height,
            10 + seed[18 + index] / 255 * width / 6,
        )
        draw.ellipse((x - r, y - r, x + r, y + r), outline=(255, 255, 255), width=3)
    _caption(
        draw,
        str(inputs["prompt"]),
        width=width,
        top=height // 2 - 20,
        size=max(12, width // 24),
        fill=(255, 255, 255),
    )
    # Published without custom outputs: the result is the default images list.
    _file_object(ctx, image, name="text_to_image.png")


def _validate_image_to_image(inputs: dict[str, Any]) -> None:
    _require_image_url(inputs)
    _number(inputs, "strength", 0.5, 0, 1)


def image_to_image(inputs: dict[str, Any], ctx: TaskContext) -> None:
    image_mod, image_draw, image_filter, _, image_ops = _pil()
    source = image_ops.exif_transpose(_load_image(ctx, inputs)).convert("RGB")
    strength = _number(inputs, "strength", 0.5, 0, 1)
    styled = image_ops.posterize(source.filter(image_filter.SMOOTH_MORE), 3)
    styled = image_ops.colorize(
        image_ops.grayscale(styled), black=(40, 20, 60), white=(250, 220, 160)
    )
    image = image_mod.blend(source, styled, strength)
    prompt = str(inputs.get("prompt") or "")
    if prompt:
        _caption(
            image_draw.Draw(image),
            prompt,
            width=image.width,
            top=max(4, image.height - 60),
            size=max(12, image.width // 32),
            fill=(255, 255, 255),
        )
    _file_object(ctx, image, name="image_to_image.png")


def _validate_image_to_video(inputs: dict[str, Any]) -> None:
    _require_image_url(inputs)
    _number(inputs, "duration", 2.0, 0.2, 10)
    _number(inputs, "fps", 8, 1, 30)
    _number(inputs, "motion_strength", 0.5, 0, 1)


def image_to_video(inputs: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    _, _, _, _, image_ops = _pil()
    source = image_ops.exif_transpose(_load_image(ctx, inputs)).convert("RGB")
    source.thumbnail((512, 512))
    duration = _number(inputs, "duration", 2.0, 0.2, 10)
    fps = _number(inputs, "fps", 8, 1, 30)
    motion = _number(inputs, "motion_strength", 0.5, 0, 1)
    count = max(2, min(120, round(duration * fps)))
    frames = []
    for index in range(count):
        zoom = 1 + motion * 0.5 * index / (count - 1)
        w, h = int(source.width / zoom), int(source.height / zoom)
        left, top = (source.width - w) // 2, (source.height - h) // 2
        frames.append(source.crop((left, top, left + w, top + h)).resize(source.size))
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=int(1000 / fps),
        loop=0,
    )
    url = ctx.save_output(
        buffer.getvalue(), filename="image_to_video.gif", content_type="image/gif"
    )
    object_key = url.split("/_store/", 1)[1].split("?", 1)[0]
    video = {
        "url": url,
        "type": "video",
        "filename": object_key.rsplit("/", 1)[-1],
        "object_key": object_key,
        "format": "gif",
        "width": source.width,
        "height": source.height,
        "duration": round(count / fps, 3),
        "fps": fps,
        "frame_count": count,
    }
    return {"video": video, "info": f"{count} frames at {fps:g} fps"}


def register_image_workflows(registry: WorkflowRegistry) -> None:
    registry.register(
        "wf-white-background", white_background, duration=3.0, validate=_require_image_url
    )
    registry.register(
        "wf-text-to-image",
        text_to_image,
        duration=lambda inputs: 0.1 * _number(inputs, "steps", 20, 1, 150),
        validate=_validate_text_to_image,
    )
    registry.register(
        "wf-image-to-image", image_to_image, duration=2.0, validate=_validate_image_to_image
    )
    registry.register(
        "wf-image-to-video",
        image_to_video,
        duration=lambda inputs: 1.0 + _number(inputs, "duration", 2.0, 0.2, 10),
        validate=_validate_image_to_video,
    )
