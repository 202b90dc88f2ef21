"""AI Portrait guide: an SDXL scene LoRA — train the scene (one prompt per photo), train the
person, then create with ``scene_id`` and no template (``template_image = "t2i_generate"``).

    python examples/portrait_scene_lora.py [--blocking]
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
PHOTOS = [f"{HOST}/_emulator/samples/portrait-1-{n}.png" for n in range(3)]
SCENES = [f"{HOST}/_emulator/samples/scene-{n}.png" for n in range(3)]
PROMPTS = ["a garden at dusk", "a garden with a fountain", "a garden path with roses"]


async def main() -> None:
    async with AsyncPortrait() as portrait:
        scene = await portrait.train(SCENES, kind="scene_lora", prompts=PROMPTS)
        person = await portrait.train(PHOTOS, kind="sdxl")
        await scene.wait(timeout=600)
        await person.wait(timeout=600)
        image = await portrait.create(
            model_id=person.model_id, kind="sdxl", config={"scene_id": scene.model_id}
        )
        saved = await image.save(OUT / ("scene" + image.extension))
        print(f"scene portrait {image.size} -> {saved}")


def main_blocking() -> None:
    with Portrait() as portrait:
        scene = portrait.train(SCENES, kind="scene_lora", prompts=PROMPTS)
        person = portrait.train(PHOTOS, kind="sdxl")
        scene.wait(timeout=600)
        person.wait(timeout=600)
        image = portrait.create(
            model_id=person.model_id, kind="sdxl", config={"scene_id": scene.model_id}
        )
        saved = image.save(OUT / ("scene" + image.extension))
        print(f"scene portrait {image.size} -> {saved}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
