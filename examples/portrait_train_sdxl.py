"""AI Portrait guide: SDXL training — a portrait model, and a scene LoRA with one prompt per photo
(``model_name = "train_xl"``, ``train_scene_lora_bool``, ``scene_lora_prompts``).

    python examples/portrait_train_sdxl.py [--blocking]
"""

from __future__ import annotations

import asyncio
import os
import sys

from speedpix_async import AsyncPortrait, Portrait

HOST = os.environ["PAI_PORTRAIT_HOST"]
PHOTOS = [f"{HOST}/_emulator/samples/portrait-1-{n}.jpg" for n in range(3)]
SCENES = [f"{HOST}/_emulator/samples/scene-{n}.jpg" for n in range(3)]
PROMPTS = [
    "a photography of a woman with long blonde hair and a white dress",
    "a photography of a woman in a pink dress posing for a picture",
    "a photography of a woman in a black dress with a white background",
]


async def main() -> None:
    async with AsyncPortrait() as portrait:
        person = await portrait.train(PHOTOS, kind="sdxl")
        scene = await portrait.train(SCENES, kind="scene_lora", prompts=PROMPTS)
        await person.wait(timeout=600)
        await scene.wait(timeout=600)
        print(f"SDXL portrait model {person.model_id}")
        print(f"scene LoRA {scene.model_id} (pass it as config scene_id)")


def main_blocking() -> None:
    with Portrait() as portrait:
        person = portrait.train(PHOTOS, kind="sdxl")
        scene = portrait.train(SCENES, kind="scene_lora", prompts=PROMPTS)
        person.wait(timeout=600)
        scene.wait(timeout=600)
        print(f"SDXL portrait model {person.model_id}")
        print(f"scene LoRA {scene.model_id} (pass it as config scene_id)")


if __name__ == "__main__":
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
