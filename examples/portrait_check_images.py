"""AI Portrait guide: check photos before training (AigcImageCheck).

One result per photo, in order: code 1 means usable; otherwise ``meaning`` says what is wrong
(2 unreadable, 3 not exactly one face, 4 detection failed, 5 face not encodable, 6 another person).

    python examples/portrait_check_images.py [--blocking]
"""

from __future__ import annotations

import asyncio
import os
import sys

from speedpix_async import AsyncPortrait, Portrait

# Photos the service can download: against the local emulator, its sample pictures; in
# production, your own URLs (OSS, a CDN…).
HOST = os.environ["PAI_PORTRAIT_HOST"]
PHOTOS = [f"{HOST}/_emulator/samples/portrait-1-{n}.jpg" for n in range(4)]
PHOTOS += [f"{HOST}/_emulator/samples/template-2.png", "https://example.invalid/missing.jpg"]


async def main() -> None:
    async with AsyncPortrait() as portrait:  # PAI_PORTRAIT_HOST / _APP_ID / _TOKEN
        for result in await portrait.check_images(PHOTOS):
            print(f"code={int(result.code)} frontal={result.frontal} {result.meaning}:", result.url)


def main_blocking() -> None:
    with Portrait() as portrait:
        for result in portrait.check_images(PHOTOS):
            print(f"code={int(result.code)} frontal={result.frontal} {result.meaning}:", result.url)


if __name__ == "__main__":
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
