"""AI Portrait guide: query a training job by id (GetAsyncJobWithId) — after a restart, say.

``client.jobs.get(job_id)`` is one query; ``client.jobs.wait(job_id)`` resumes waiting from the
id alone.

    python examples/portrait_job_query.py [--blocking]
"""

from __future__ import annotations

import asyncio
import os
import sys

from speedpix_async import AsyncPortrait, Portrait

HOST = os.environ["PAI_PORTRAIT_HOST"]
PHOTOS = [f"{HOST}/_emulator/samples/portrait-2-{n}.png" for n in range(3)]


async def main() -> None:
    async with AsyncPortrait() as portrait:
        job_id = (await portrait.train(PHOTOS)).job_id  # keep this id somewhere durable
        now = await portrait.jobs.get(job_id)
        print(f"job {job_id}: {now.state.name} ({now.message})")
        done = await portrait.jobs.wait(job_id, timeout=600)
        print(f"job {job_id}: {done.state.name}, Result {done.result.raw if done.result else None}")


def main_blocking() -> None:
    with Portrait() as portrait:
        job_id = portrait.train(PHOTOS).job_id
        now = portrait.jobs.get(job_id)
        print(f"job {job_id}: {now.state.name} ({now.message})")
        done = portrait.jobs.wait(job_id, timeout=600)
        print(f"job {job_id}: {done.state.name}, Result {done.result.raw if done.result else None}")


if __name__ == "__main__":
    main_blocking() if "--blocking" in sys.argv else asyncio.run(main())
