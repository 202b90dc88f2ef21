"""AI Portrait guide: train, then create from a prompt instead of a template (``t2i_prompt``).

python examples/portrait_prompt.py [--blocking]
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from speedpix_async import AsyncPortrait, Portrait

#: Everything this example makes goes here (git ignores it).
OUT = Path("speedpix-output")

HOST = os.environ["PAI_PORTRAIT_HOST"]
PHOTOS = [f"{HOST}/_emulator/samples/portrait-4-{n}.png" for n in range(3)]
PROMPT = (
    "(portrait:1.5), 1girl, bokeh, bouquet, brown_hair, cloud, flower, hairband, hydrangea, "
    "lips, long_hair, outdoors, sunlight, white_flower, white_rose, green sweater"
)


async def main() -> None:
    async with AsyncPortrait() as portrait:
        job = await portrait.train(PHOTOS)
        await job.wait(timeout=600)
        image = await portrait.create(model_id=job.model_id, config={"t2i_prompt": PROMPT})
        saved = await image.save(OUT / ("prompt" + image.extension))
        print(f"prompt portrait {image.size} -> {saved}")


def main_blocking() -> None:
    with Portrait() as portrait:
        job = portrait.train(PHOTOS)
        job.wait(timeout=600)
        image = portrait.create(model_id=job.model_id, config={"t2i_prompt": PROMPT})
        saved = image.save(OUT / ("prompt" + image.extension))
        print(f"prompt portrait {image.size} -> {saved}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
