"""``client.files``: temporary input-file uploads (PROTOCOL A.4.4) and downloads by URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._converter import structure, unstructure
from .._errors import ResponseValidationError
from .._sources import FileInput, FileSource, open_source
from .._wire import UploadSignRequest, UploadSignResponse
from ..models import UploadedFile
from ..outputs import FileOutput

if TYPE_CHECKING:
    from .._client import AsyncSpeedPix

__all__ = ["AsyncFiles"]

PATH_UPLOAD_SIGN = "/scc/sp_create_temp_file_upload_sign"


class AsyncFiles:
    """Uploads and downloads. Reach it as ``client.files``."""

    def __init__(self, client: AsyncSpeedPix) -> None:
        self._client = client

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
            return await self._upload(source)
        finally:
            source.close()

    async def _upload(self, source: FileSource) -> UploadedFile:
        """Upload an already opened :class:`~speedpix_async._sources.FileSource`."""
        request = UploadSignRequest(
            content_type=source.content_type, original_filename=source.name, size=source.size
        )
        reply = await self._client._transport.call(
            PATH_UPLOAD_SIGN, unstructure(request), idempotent=True
        )
        signed = structure(
            reply.data,
            UploadSignResponse,
            what="the sp_create_temp_file_upload_sign answer",
            path="$.data",
        )
        if not signed.access_url:
            raise ResponseValidationError(
                "the upload-sign answer has no accessUrl, so the uploaded file could not be "
                "referenced from a workflow input",
                api_invoke_id=reply.api_invoke_id,
                request_id=reply.request_id,
            )
        await self._client._transport.put_file(signed.upload_url, source)
        return UploadedFile(
            access_url=signed.access_url,
            object_key=signed.object_key,
            path=signed.path,
            expire_time=signed.expire_time,
            name=source.name,
            content_type=source.content_type,
            size=source.size,
        )

    def from_url(self, url: str) -> FileOutput:
        """A :class:`FileOutput` for ``url`` bound to this client, to ``save()``/``read()`` it
        (e.g. an ``UploadedFile.access_url`` or an output URL kept from an earlier run)."""
        return FileOutput(url, transport=self._client._transport)
