"""Typed results, like the Go guide's ``RunTyped[ImageResult]``.

``output_type=`` structures the output into your own attrs class or dataclass; file fields
become ``ImageFile`` / ``VideoFile`` with their metadata and helpers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs

from speedpix_async import AsyncSpeedPix, ImageFile, VideoFile

#: Everything this example makes goes here (git ignores it).
OUT = Path("speedpix-output")


@attrs.frozen
class ImageResult:
    images: ImageFile  # a single file object, as the sample workflow returns it
    info: str


@attrs.frozen
class Gallery:
    images: list[ImageFile]  # the default image list of a workflow without custom outputs


@attrs.frozen
class VideoResult:
    video: VideoFile
    info: str


async def main(photo: Path) -> None:
    async with AsyncSpeedPix() as client:
        result = await client.run(
            "wf-white-background", {"image": photo, "text": "typed"}, output_type=ImageResult
        )
        image = result.images
        print(f"{image.width}x{image.height} {image.file_format}, square={image.is_square}")
        await image.save(OUT / "typed_result.png")

        gallery = await client.run(
            "wf-text-to-image",
            {"prompt": "A beautiful sunset landscape", "width": 768, "height": 512, "steps": 10},
            output_type=Gallery,
        )
        print(f"text-to-image gave {len(gallery.images)} image(s)")

        clip = await client.run(
            "wf-image-to-video",
            {"image": photo, "duration": 1.0, "fps": 8},
            output_type=VideoResult,
        )
        print(f"video {clip.video.resolution}, {clip.video.duration}s, HD={clip.video.is_hd}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    product = OUT / "product.jpg"
    if not product.exists():
        from speedpix_async.emulator import make_sample_photo

        make_sample_photo(product)
    asyncio.run(main(product))
