"""AI Portrait guide: a prompt and one reference photo — no template, no training.

python examples/portrait_prompt_reference.py [--blocking]
"""

from __future__ import annotations

import asyncio
import os
import sys

from speedpix_async import AsyncPortrait, Portrait, PortraitConfig

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
        print(f"{image.size} from a prompt -> {await image.save('prompt-ref' + image.extension)}")


def main_blocking() -> None:
    with Portrait() as portrait:
        image = portrait.create(config=CONFIG)
        print(f"{image.size} from a prompt -> {image.save('prompt-ref' + image.extension)}")


if __name__ == "__main__":
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
