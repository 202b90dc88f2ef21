"""Uploading one input file: a signed upload-sign request, then a streamed PUT
(docs/protocol.md, "Uploads")."""

from __future__ import annotations

from .._core.storage import Storage
from .._errors import ResponseValidationError
from ..models import UploadedFile
from .endpoints import Endpoints
from .sources import FileSource
from .wire import UploadSignRequest

__all__ = ["Uploader"]


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
