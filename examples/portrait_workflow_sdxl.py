"""AI Portrait guide: the standard SDXL workflow — train with ``train_xl``, create with
``create_xl`` (SDXL-only keys such as ``first_diffusion_steps`` are allowed only here).

    python examples/portrait_workflow_sdxl.py [--blocking]
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
PHOTOS = [f"{HOST}/_emulator/samples/portrait-3-{n}.jpg" for n in range(3)]
TEMPLATE = f"{HOST}/_emulator/samples/template-1.jpg"
CONFIG = {"lora_weights": 0.9, "first_diffusion_steps": 50, "more_like_me": 0.6}


async def main() -> None:
    async with AsyncPortrait() as portrait:
        job = await portrait.train(PHOTOS, kind="sdxl")
        await job.wait(timeout=600)
        image = await portrait.create(TEMPLATE, model_id=job.model_id, kind="sdxl", config=CONFIG)
        saved = await image.save(OUT / ("portrait-xl" + image.extension))
        print(f"SDXL portrait {image.size} -> {saved}")


def main_blocking() -> None:
    with Portrait() as portrait:
        job = portrait.train(PHOTOS, kind="sdxl")
        job.wait(timeout=600)
        image = portrait.create(TEMPLATE, model_id=job.model_id, kind="sdxl", config=CONFIG)
        saved = image.save(OUT / ("portrait-xl" + image.extension))
        print(f"SDXL portrait {image.size} -> {saved}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
