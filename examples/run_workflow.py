"""Run a published workflow and print its output, with progress.

Configure with SPEEDPIX_APP_KEY, SPEEDPIX_APP_SECRET and (optionally) SPEEDPIX_ENDPOINT. Against
the local emulator:

    python -m speedpix_async.emulator --port 8787 &
    SPEEDPIX_APP_KEY=demo-app-key SPEEDPIX_APP_SECRET=demo-app-secret \\
    SPEEDPIX_ENDPOINT=http://127.0.0.1:8787 python examples/run_workflow.py
"""

from __future__ import annotations

import asyncio
import json

from speedpix_async import AsyncSpeedPix, Progress


def show(report: Progress) -> None:
    print(f"  {report.status:<9} {report.percent:5.1f}%  eta {report.eta}s")


async def main() -> None:
    async with AsyncSpeedPix() as client:
        output = await client.run(
            "wf-echo",
            input={"prompt": "A beautiful landscape painting", "steps": 20},
            alias_id="main",
            timeout=120,
            on_progress=show,
        )
    print(json.dumps(output, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
