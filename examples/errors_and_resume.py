"""Typed errors, deadlines and resuming a wait.

A failed task raises PredictionFailedError (with the codes a support ticket needs); a deadline
raises PredictionTimeoutError, after which the task keeps running and can be waited on again.
"""

from __future__ import annotations

import asyncio

from speedpix_async import (
    AsyncSpeedPix,
    PredictionFailedError,
    PredictionTimeoutError,
    UnsupportedOperationError,
)


async def main() -> None:
    async with AsyncSpeedPix() as client:
        try:
            await client.run("wf-fail", {"message": "out of GPU memory", "code": "OOM"})
        except PredictionFailedError as err:
            print(
                f"failed as expected: {err.prediction.error} (code {err.error_code}, "
                f"apiInvokeId {err.api_invoke_id})"
            )

        try:
            await client.run("wf-sleep", {"seconds": 2}, timeout=0.5)
        except PredictionTimeoutError as err:
            if err.task_id is None:  # the deadline struck before a task existed
                raise
            print(f"deadline passed while {err.last_status}; resuming task {err.task_id}")
            final = await client.predictions.wait(err.task_id, timeout=30)
            print(f"resumed and finished: {final.output}")

        handle = await client.run("wf-sleep", {"seconds": 0.2}, wait=False)
        try:
            await handle.cancel()
        except UnsupportedOperationError as err:
            print(f"cancel refused: {err}")
        print(f"task {handle.id} finished anyway: {(await handle.wait()).output}")


if __name__ == "__main__":
    asyncio.run(main())
