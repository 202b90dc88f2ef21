"""Uploading input files (a signed upload-sign request, then a streamed PUT), and
``client.files``: uploads and downloads by URL (docs/protocol.md, "Uploads")."""

from __future__ import annotations

from .._core.storage import Storage
from .._errors import ResponseValidationError
from ..outputs import FileOutput
from .endpoints import Endpoints, UploadSignRequest
from .models import UploadedFile
from .sources import FileInput, FileSource, open_source

__all__ = ["AsyncFiles", "Uploader"]


class Uploader:
    """Turns an opened :class:`~.sources.FileSource` into an :class:`UploadedFile`."""

    def __init__(self, endpoints: Endpoints, storage: Storage) -> None:
        self.endpoints = endpoints
        self.storage = storage

    async def upload(self, source: FileSource) -> UploadedFile:
        signed, reply = await self.endpoints.upload_sign(
            UploadSignRequest(
                content_type=source.content_type, original_filename=source.name, size=source.size
            )
        )
        if not signed.access_url:
            raise ResponseValidationError(
                "the upload-sign answer has no accessUrl, so the uploaded file could not be "
                "referenced from a workflow input",
                api_invoke_id=reply.api_invoke_id,
                request_id=reply.request_id,
            )
        await self.storage.put(signed.upload_url, source)
        return UploadedFile(
            access_url=signed.access_url,
            object_key=signed.object_key,
            path=signed.path,
            expire_time=signed.expire_time,
            name=source.name,
            content_type=source.content_type,
            size=source.size,
        )


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
