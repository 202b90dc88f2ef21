"""Uploading files explicitly, as the guides' "file upload examples" do.

``client.files.create`` accepts a path, bytes, a binary file object or an async iterator of
bytes, and returns an ``UploadedFile`` whose ``access_url`` goes into the workflow input.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

from speedpix_async import AsyncSpeedPix

#: Everything this example makes goes here (git ignores it).
OUT = Path("speedpix-output")


async def read_in_pieces(data: bytes) -> AsyncIterator[bytes]:
    """Stands in for any async byte source (a web upload, a stream from another service)."""
    for start in range(0, len(data), 64 * 1024):
        yield data[start : start + 64 * 1024]


async def main(photo_bytes: bytes) -> None:
    async with AsyncSpeedPix() as client:
        from_path = await client.files.create("./speedpix-output/background.jpg")
        from_buffer = await client.files.create(io.BytesIO(photo_bytes), filename="copy.jpg")
        from_stream = await client.files.create(read_in_pieces(photo_bytes), filename="stream.jpg")
        for uploaded in (from_path, from_buffer, from_stream):
            print(f"uploaded {uploaded.name} ({uploaded.content_type}, {uploaded.size:,} bytes)")

        output = await client.run(
            "wf-image-to-image",
            {
                "image": from_path.access_url,
                "prompt": "Convert to oil painting style",
                "strength": 0.8,
            },
        )
        saved = await output["images"][0].save(OUT / "processed-result.png")
        print(f"saved {saved}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    source = OUT / "background.jpg"
    if not source.exists():
        from speedpix_async.emulator import make_sample_photo

        make_sample_photo(source)
    asyncio.run(main(source.read_bytes()))
