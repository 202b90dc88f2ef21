"""``client.files``: temporary input-file uploads and downloads by URL."""

from __future__ import annotations

from .._core.storage import Storage
from ..models import UploadedFile
from ..outputs import FileOutput
from .sources import FileInput, open_source
from .uploads import Uploader

__all__ = ["AsyncFiles"]


class AsyncFiles:
    """Uploads and downloads. Reach it as ``client.files``."""

    def __init__(self, uploader: Uploader, storage: Storage) -> None:
        self._uploader = uploader
        self._storage = storage

    async def create(
        self,
        file: FileInput,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> UploadedFile:
        """Upload a file for use as a workflow input; pass ``result.access_url`` as the value.

        ``file`` may be a path (``str`` or ``PathLike``), ``bytes``, a binary file object or an
        async iterator of bytes. The body is streamed (memory stays flat for large files); the
        content type comes from the file's first bytes, else its name, unless given. Two
        requests: a signed ``sp_create_temp_file_upload_sign``, then a PUT of the raw bytes to the
        presigned URL, both through this client's pool, timeouts and retries.
        """
        source = await open_source(file, where="file", filename=filename, content_type=content_type)
        try:
            return await self._uploader.upload(source)
        finally:
            source.close()

    def from_url(self, url: str) -> FileOutput:
        """A :class:`FileOutput` for ``url`` bound to this client, to ``save()``/``read()`` it
        (e.g. an ``UploadedFile.access_url`` or an output URL kept from an earlier run)."""
        return FileOutput(url, storage=self._storage)
