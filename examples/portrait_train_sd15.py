"""AI Portrait guide: train a Stable Diffusion 1.5 model (AigcImagesTrain) and wait for the job.

The guide polls ``GetAsyncJobWithId`` every 30 s by hand; ``handle.wait()`` polls for you, backing
off up to 30 s, under one deadline, and raises if the training fails.

    python examples/portrait_train_sd15.py [--blocking]
"""

from __future__ import annotations

import asyncio
import os
import sys

from speedpix_async import AsyncPortrait, Job, Portrait

HOST = os.environ["PAI_PORTRAIT_HOST"]
PHOTOS = [f"{HOST}/_emulator/samples/portrait-1-{n}.jpg" for n in range(4)]


def show(job: Job) -> None:
    print(f"job {job.id}: {job.state.name} {job.message}")


async def main() -> None:
    async with AsyncPortrait() as portrait:
        handle = await portrait.train(PHOTOS)  # kind="sd15" is the default
        print(f"job {handle.job_id} trains model {handle.model_id}")
        job = await handle.wait(on_progress=show, timeout=600)
        print(f"trained {job.result.model_id if job.result else handle.model_id}")


def main_blocking() -> None:
    with Portrait() as portrait:
        handle = portrait.train(PHOTOS)
        print(f"job {handle.job_id} trains model {handle.model_id}")
        job = handle.wait(on_progress=show, timeout=600)
        print(f"trained {job.result.model_id if job.result else handle.model_id}")


if __name__ == "__main__":
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
