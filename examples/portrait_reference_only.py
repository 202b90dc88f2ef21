"""AI Portrait guide: a portrait from one reference photo, without training
(``ipa_control_only`` with ``ipa_image_path``; the model id is left empty).

    python examples/portrait_reference_only.py [--blocking]
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
TEMPLATE = f"{HOST}/_emulator/samples/template-1.png"
REFERENCE = f"{HOST}/_emulator/samples/portrait-5-0.jpg"
CONFIG = PortraitConfig(ipa_control_only=True, ipa_weight=0.6, ipa_image_path=REFERENCE)


async def main() -> None:
    async with AsyncPortrait() as portrait:
        image = await portrait.create(TEMPLATE, config=CONFIG)
        saved = await image.save(OUT / ("ref" + image.extension))
        print(f"reference-only portrait {image.size} -> {saved}")


def main_blocking() -> None:
    with Portrait() as portrait:
        image = portrait.create(TEMPLATE, config=CONFIG)
        saved = image.save(OUT / ("ref" + image.extension))
        print(f"reference-only portrait {image.size} -> {saved}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
