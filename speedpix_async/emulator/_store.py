"""The emulator's object store: presigned PUT for uploads, presigned GET for inputs and outputs.

Modelled on OSS presigned URLs: ``/_store/<key>?Expires=<epoch s>&Signature=<hmac>`` where the
signature binds the method, the key, the ``Content-Type`` (for PUT) and the expiry. Uploads are
streamed to disk chunk by chunk — a large file never sits in memory — and must deliver exactly
their ``Content-Length``. Errors are OSS-style XML documents with ``Code`` and ``Message``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import anyio
import anyio.to_thread
import attrs
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ._faults import FaultInjector
from ._stats import Stats

__all__ = ["ObjectStore", "StoreError"]

#: A presigned upload URL is valid this long (docs/protocol.md, "Unknowns": lifetime unknown).
UPLOAD_URL_TTL = 15 * 60.0
#: Access URLs of uploads and outputs stay valid this long.
OBJECT_URL_TTL = 24 * 3600.0
#: Largest accepted upload.
MAX_UPLOAD_BYTES = 8 << 30
#: Objects up to this size are read, and uploads written, in one worker-thread call instead of
#: streamed in chunks (each chunk a thread hop): most inputs and outputs are this small, and the
#: hops were most of the store's CPU per request (benchmarks/emulator_routes.py).
SMALL_OBJECT = 1 << 20
#: Sample pictures the emulator serves (and can download itself) under this path.
SAMPLES_PREFIX = "/_emulator/samples/"

Samples = Callable[[str], "tuple[bytes, str] | None"]
"""A sample picture by name: (bytes, content type), or None."""


def _no_samples(name: str) -> tuple[bytes, str] | None:
    return None


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class StoreError(Exception):
    """A store refusal with an OSS-style code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@attrs.frozen
class StoredObject:
    path: Path
    content_type: str
    size: int


def _safe_name(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._") or "file"
    return cleaned[:120]


def error_response(error: StoreError) -> Response:
    request_id = uuid.uuid4().hex.upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{error.code}</Code><Message>{error.message}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    return Response(
        body.encode(),
        status_code=error.status,
        media_type="application/xml",
        headers={"x-oss-request-id": request_id},
    )


async def _counted(body: AsyncIterator[bytes], length: int) -> AsyncGenerator[bytes, None]:
    """``body``'s chunks; raises once they add up to more than the declared ``length``."""
    received = 0
    async for chunk in body:
        received += len(chunk)
        if received > length:
            raise StoreError(400, "InvalidArgument", "The body is longer than Content-Length.")
        yield chunk


class ObjectStore:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        stats: Stats,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        self._clock = clock
        self._stats = stats
        self._tempdir = (
            tempfile.TemporaryDirectory(prefix="speedpix-emulator-") if root is None else None
        )
        self.root = Path(root) if root is not None else Path(self._tempdir.name)  # type: ignore[union-attr]
        self.root.mkdir(parents=True, exist_ok=True)
        self._secret = secrets.token_bytes(32)
        self._objects: dict[str, StoredObject] = {}
        self._lock = threading.Lock()
        self.faults: FaultInjector | None = None
        self.samples: Samples = _no_samples
        """The emulator's sample pictures, reachable at ``/_emulator/samples/<name>``."""

    def close(self) -> None:
        """Delete everything stored (only the directory this store created itself)."""
        if self._tempdir is not None:
            self._tempdir.cleanup()

    # ------------------------------------------------------------------ signing

    def _signature(self, method: str, key: str, content_type: str, expires: int) -> str:
        message = f"{method}\n{key}\n{content_type}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def presign(
        self, method: str, key: str, *, base_url: str, ttl: float, content_type: str = ""
    ) -> tuple[str, int]:
        """A presigned URL for ``method`` on ``key`` and its expiry (epoch seconds)."""
        expires = int(self._clock() + ttl)
        signature = self._signature(method, key, content_type if method == "PUT" else "", expires)
        return f"{base_url}/_store/{quote(key)}?Expires={expires}&Signature={signature}", expires

    def _verify(
        self, method: str, key: str, content_type: str, expires: str | None, signature: str | None
    ) -> None:
        if not expires or not signature or not expires.isdigit():
            raise StoreError(
                403, "AccessDenied", "Anonymous access is forbidden for this operation."
            )
        expected = self._signature(
            method, key, content_type if method == "PUT" else "", int(expires)
        )
        if not hmac.compare_digest(expected, signature):
            raise StoreError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if int(expires) < self._clock():
            raise StoreError(403, "AccessDenied", "Request has expired.")

    # ------------------------------------------------------------------ API used by the app

    def upload_slot(self, *, filename: str, content_type: str, base_url: str) -> dict[str, object]:
        """The ``data`` of an ``sp_create_temp_file_upload_sign`` answer
        (docs/protocol.md, "Uploads")."""
        day = time.strftime("%Y%m%d", time.gmtime(self._clock()))
        key = f"temp/{day}/{uuid.uuid4().hex}/{_safe_name(filename)}"
        upload_url, expires = self.presign(
            "PUT", key, base_url=base_url, ttl=UPLOAD_URL_TTL, content_type=content_type
        )
        access_url, _ = self.presign("GET", key, base_url=base_url, ttl=OBJECT_URL_TTL)
        return {
            "uploadUrl": upload_url,
            "objectKey": key,
            "path": f"/{key}",
            "expireTime": expires * 1000,
            "accessUrl": access_url,
        }

    def _disk_path(self, key: str) -> Path:
        # Keys never become paths: no traversal, whatever the client sends.
        return self.root / hashlib.sha256(key.encode()).hexdigest()

    def put_output(self, data: bytes, *, filename: str, content_type: str, base_url: str) -> str:
        """Store a workflow output and return its presigned GET URL."""
        digest = hashlib.sha1(data).hexdigest()[:16]
        key = f"comfy/output/{digest}_{uuid.uuid4().hex[:8]}_{_safe_name(filename)}"
        path = self._disk_path(key)
        path.write_bytes(data)
        with self._lock:
            self._objects[key] = StoredObject(path=path, content_type=content_type, size=len(data))
        url, _ = self.presign("GET", key, base_url=base_url, ttl=OBJECT_URL_TTL)
        return url

    def read_url(self, url: str) -> bytes:
        """The bytes behind a presigned GET URL of this store, or ``data:`` URI content.

        The emulator can reach nothing but itself, so any other URL fails as unreachable.
        """
        if url.startswith("data:"):
            header, _, payload = url.partition(",")
            if ";base64" not in header:
                raise StoreError(400, "InvalidArgument", "only base64 data URIs are supported")
            try:
                return base64.b64decode(payload, validate=True)
            except ValueError as exc:
                raise StoreError(400, "InvalidArgument", f"bad base64 data URI: {exc}") from exc
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.path.startswith(SAMPLES_PREFIX):
            found = self.samples(unquote(parts.path[len(SAMPLES_PREFIX) :]))
            if found is None:
                raise StoreError(404, "NoSuchKey", "The specified sample does not exist.")
            return found[0]
        if parts.scheme not in ("http", "https") or not parts.path.startswith("/_store/"):
            raise StoreError(
                404,
                "UnreachableUrl",
                f"cannot download {parts.scheme}://{parts.netloc}{parts.path}: host unreachable",
            )
        key = unquote(parts.path[len("/_store/") :])
        query = dict(item.split("=", 1) for item in parts.query.split("&") if "=" in item)
        self._verify("GET", key, "", query.get("Expires"), query.get("Signature"))
        stored = self._lookup(key)
        return stored.path.read_bytes()

    def _lookup(self, key: str) -> StoredObject:
        with self._lock:
            stored = self._objects.get(key)
        if stored is None:
            raise StoreError(404, "NoSuchKey", "The specified key does not exist.")
        return stored

    # ------------------------------------------------------------------ HTTP endpoint

    async def handle(self, request: Request) -> Response:
        self._stats.request("/_store", request.client)
        if self.faults is None:
            return await self._serve(request)
        # Faults are keyed by method too, so uploads and downloads can be targeted apart.
        return await self.faults.apply(
            f"/_store:{request.method}", lambda: self._serve(request), self
        )

    def rejection(self, kind: str) -> Response | None:
        if kind == "throttle":
            return error_response(StoreError(503, "SlowDown", "Please reduce your request rate."))
        if kind == "unavailable":
            return error_response(StoreError(503, "ServiceUnavailable", "Please try again."))
        return None  # no envelope on the object store

    def garble(self, response: Response | None) -> Response | None:
        return None  # objects are bytes, not JSON

    async def _serve(self, request: Request) -> Response:
        key = request.path_params["key"]
        try:
            if request.method == "PUT":
                return await self._put(request, key)
            if request.method in ("GET", "HEAD"):
                return await self._get(request, key)
            raise StoreError(405, "MethodNotAllowed", "The specified method is not allowed.")
        except StoreError as error:
            return error_response(error)

    async def _put(self, request: Request, key: str) -> Response:
        content_type = request.headers.get("content-type", "")
        self._verify(
            "PUT",
            key,
            content_type,
            request.query_params.get("Expires"),
            request.query_params.get("Signature"),
        )
        declared = request.headers.get("content-length")
        if declared is None or not declared.isdigit():
            raise StoreError(
                411, "MissingContentLength", "You must provide the Content-Length HTTP header."
            )
        length = int(declared)
        if length > MAX_UPLOAD_BYTES:
            raise StoreError(
                413, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."
            )
        final = self._disk_path(key)
        partial = final.with_suffix(".part")
        received = 0
        self._stats.upload_started()
        try:
            head: list[bytes] = []  # a small upload's whole body, written in one call
            async with contextlib.aclosing(_counted(request.stream(), length)) as chunks:
                async for chunk in chunks:
                    head.append(chunk)
                    received += len(chunk)
                    if received > SMALL_OBJECT:
                        break
                if received <= SMALL_OBJECT:
                    await anyio.to_thread.run_sync(partial.write_bytes, b"".join(head))
                else:
                    async with await anyio.open_file(partial, "wb") as out:
                        await out.write(b"".join(head))
                        del head[:]  # a large file never sits in memory
                        async for chunk in chunks:
                            received += len(chunk)
                            await out.write(chunk)
            if received != length:
                raise StoreError(
                    400,
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the "
                    "Content-Length HTTP header.",
                )
            await anyio.to_thread.run_sync(os.replace, partial, final)  # a disk operation
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            self._stats.upload_ended()
        with self._lock:
            self._objects[key] = StoredObject(path=final, content_type=content_type, size=received)
        self._stats.uploaded(received)
        etag = '"' + hashlib.md5(key.encode() + str(received).encode()).hexdigest().upper() + '"'
        return Response(b"", status_code=200, headers={"ETag": etag})

    async def _get(self, request: Request, key: str) -> Response:
        self._verify(
            "GET",
            key,
            "",
            request.query_params.get("Expires"),
            request.query_params.get("Signature"),
        )
        stored = self._lookup(key)
        self._stats.downloaded(stored.size)
        media_type = stored.content_type or "application/octet-stream"
        if (
            request.method == "GET"
            and stored.size <= SMALL_OBJECT
            and "range" not in request.headers
        ):
            data = await anyio.to_thread.run_sync(stored.path.read_bytes)
            return Response(data, media_type=media_type, headers={"accept-ranges": "bytes"})
        # HEAD, ranges and large objects: streamed from disk.
        return FileResponse(stored.path, media_type=media_type)
