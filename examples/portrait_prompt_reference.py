"""AI Portrait guide: a prompt and one reference photo — no template, no training.

python examples/portrait_prompt_reference.py [--blocking]
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
REFERENCE = f"{HOST}/_emulator/samples/portrait-0-2.jpg"
CONFIG = PortraitConfig(
    ipa_control_only=True,
    ipa_weight=0.6,
    ipa_image_path=REFERENCE,
    t2i_prompt="(portrait:1.5), 1girl, outdoors, sunlight, white_flower, green sweater",
)


async def main() -> None:
    async with AsyncPortrait() as portrait:
        image = await portrait.create(config=CONFIG)
        saved = await image.save(OUT / ("prompt-ref" + image.extension))
        print(f"{image.size} from a prompt -> {saved}")


def main_blocking() -> None:
    with Portrait() as portrait:
        image = portrait.create(config=CONFIG)
        saved = image.save(OUT / ("prompt-ref" + image.extension))
        print(f"{image.size} from a prompt -> {saved}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
