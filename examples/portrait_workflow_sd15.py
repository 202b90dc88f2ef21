"""AI Portrait guide: the standard SD 1.5 workflow — train, wait, create a solo portrait
(AigcImagesCreate) with the guide's own configure values, save it.

    python examples/portrait_workflow_sd15.py [--blocking]
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from speedpix_async import AsyncPortrait, Portrait, PortraitConfig

#: Everything this example makes goes here (git ignores it).
OUT = Path("speedpix-output")

HOST = os.environ["PAI_PORTRAIT_HOST"]
PHOTOS = [f"{HOST}/_emulator/samples/portrait-1-{n}.jpg" for n in range(4)]
TEMPLATE = f"{HOST}/_emulator/samples/template-1.png"
# The guide's sample values; every key is checked against its documented range before sending.
CONFIG = PortraitConfig(
    lora_weights=0.9,
    first_denoising_strength=1,
    second_denoising_strength=1,
    more_like_me=1,
    crop_face_preprocess=False,
    apply_face_fusion_before=False,
    apply_face_fusion_after=False,
    color_shift_middle=False,
    color_shift_last=False,
    background_restore=True,
)


async def main() -> None:
    async with AsyncPortrait() as portrait:
        job = await portrait.train(PHOTOS)
        await job.wait(timeout=600)
        image = await portrait.create(TEMPLATE, model_id=job.model_id, config=CONFIG)
        saved = await image.save(OUT / ("portrait" + image.extension))
        print(f"{image.width}x{image.height} {image.format} in {image.cost_time}s -> {saved}")


def main_blocking() -> None:
    with Portrait() as portrait:
        job = portrait.train(PHOTOS)
        job.wait(timeout=600)
        image = portrait.create(TEMPLATE, model_id=job.model_id, config=CONFIG)
        saved = image.save(OUT / ("portrait" + image.extension))
        print(f"{image.width}x{image.height} {image.format} in {image.cost_time}s -> {saved}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
