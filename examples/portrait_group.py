"""AI Portrait guide: a group portrait (AigcImagesCreateByMultiModelIds) — several trained models,
a template with exactly as many faces (otherwise FaceCountMismatchError, HTTP 469).

    python examples/portrait_group.py [--blocking]
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from speedpix_async import AsyncPortrait, FaceCountMismatchError, Portrait

#: Everything this example makes goes here (git ignores it).
OUT = Path("speedpix-output")

HOST = os.environ["PAI_PORTRAIT_HOST"]
ALICE = [f"{HOST}/_emulator/samples/portrait-0-{n}.png" for n in range(3)]
BOB = [f"{HOST}/_emulator/samples/portrait-2-{n}.png" for n in range(3)]
PAIR = f"{HOST}/_emulator/samples/template-2.png"
TRIO = f"{HOST}/_emulator/samples/template-3.png"


async def main() -> None:
    async with AsyncPortrait() as portrait:
        jobs = [await portrait.train(ALICE), await portrait.train(BOB)]
        ids = [(await job.wait(timeout=600)).model_id or "" for job in jobs]
        image = await portrait.create(PAIR, model_ids=ids)
        saved = await image.save(OUT / ("group" + image.extension))
        print(f"group portrait {image.size} -> {saved}")
        try:
            await portrait.create(TRIO, model_ids=ids)
        except FaceCountMismatchError as err:
            print(f"as expected: {err.message}")


def main_blocking() -> None:
    with Portrait() as portrait:
        jobs = [portrait.train(ALICE), portrait.train(BOB)]
        ids = [job.wait(timeout=600).model_id or "" for job in jobs]
        image = portrait.create(PAIR, model_ids=ids)
        saved = image.save(OUT / ("group" + image.extension))
        print(f"group portrait {image.size} -> {saved}")
        try:
            portrait.create(TRIO, model_ids=ids)
        except FaceCountMismatchError as err:
            print(f"as expected: {err.message}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
