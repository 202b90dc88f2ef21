"""The vendor guides' sample: a product photo on a white background.

Mirrors the Python guide's quickstart: a local path in the input is uploaded automatically, and
the output image is saved with ``output["images"]["url"].save(...)``. Creates ``input.jpg`` (a
sample product photo) when it does not exist yet.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from speedpix_async import AsyncSpeedPix

#: Everything this example makes goes here (git ignores it).
OUT = Path("speedpix-output")


async def main() -> None:
    async with AsyncSpeedPix() as client:
        output = await client.run(
            workflow_id="wf-white-background",
            input={
                "text": "A beautiful landscape painting",
                "image": "./speedpix-output/input.jpg",  # a local path: uploaded automatically
            },
            alias_id="main",
        )
        saved = await output["images"]["url"].save(OUT / "output.png")
    image = output["images"]
    print(f"saved {saved} ({image['width']}x{image['height']}); info: {output['info']}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    if not (OUT / "input.jpg").exists():
        from speedpix_async.emulator import make_sample_photo

        make_sample_photo(OUT / "input.jpg")
    asyncio.run(main())
