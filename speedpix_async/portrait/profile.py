"""AI Portrait as a profile for the core: PAI signing and reading its answers
(docs/protocol.md, "AI Portrait").

Success is exactly HTTP 200 with ``code == "OK"``; every other answer becomes a
:class:`~speedpix_async.PortraitError` subclass chosen by the HTTP status (and, for 400, the
code), with a message that says what to change.
"""

from __future__ import annotations

from typing import Any

from .._core.answers import CallContext, Reply, decode_json_body, excerpt, try_json
from .._core.http import Response
from .._core.retry import parse_retry_after
from .._errors import APIError, RateLimitError, ResponseValidationError
from .._signing import PaiSigner, QueryParams, Signature
from .errors import (
    FaceCountMismatchError,
    PortraitAuthenticationError,
    PortraitError,
    PortraitInputError,
    PortraitNotFoundError,
    PortraitProcessingError,
    PortraitQuotaError,
    PortraitServerError,
)

__all__ = ["PortraitProfile", "read_portrait"]

ENDPOINT_SETTING = "PAI_PORTRAIT_HOST / host="
OK = "OK"

#: Parts of the 462/469/500 messages the guide lists → what to change.
HINTS: tuple[tuple[str, str], ...] = (
    (
        "Invalid input data",
        "the service could not read the request's input; check the images and the configure keys",
    ),
    (
        "Image not provided",
        "no template image was given: pass template_image=, or set "
        "t2i_prompt / scene_id to generate the scene",
    ),
    (
        "Prompts get error",
        "the service does not know this model id: pass the model_id that train() returned",
    ),
    (
        "Roop image decode error",
        "the model's training has not finished or failed: wait for the "
        "training job (client.jobs.wait(job_id)) before creating",
    ),
    (
        "Template image decode error",
        "the template image cannot be read: use another template "
        "(a .jpg or .png larger than 512×512)",
    ),
    ("Template image process error", "the template could not be prepared: use another template"),
    ("There is not face in template", "the template holds no face: use a template with a face"),
    ("number of faces", "the template must hold exactly as many faces as model ids were given"),
    ("Face Fusion Error", "no usable face in the template for face fusion: use another template"),
    (
        "Stable Diffusion Process error",
        "the service's diffusion step failed: try again later, or with another template",
    ),
    (
        "Face id image decode error",
        "the model's face reference cannot be read: check that its training succeeded",
    ),
)


def _hint(server_message: str | None, fallback: str) -> str:
    for fragment, hint in HINTS:
        if server_message and fragment.lower() in server_message.lower():
            return hint
    return fallback


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def portrait_error(response: Response, call: CallContext) -> APIError:
    """The typed error for an answer other than HTTP 200."""
    status = response.status_code
    payload = try_json(response.content)
    envelope = payload if isinstance(payload, dict) else {}
    code, message = _text(envelope.get("code")), _text(envelope.get("message"))
    fields: dict[str, Any] = {
        "status_code": status,
        "method": call.method,
        "url": call.url,
        "request_id": _text(envelope.get("request_id")),
        "retry_after": parse_retry_after(response.headers),
        "code": code,
        "server_message": message,
    }
    if payload is None and response.content.strip():
        fallback = (
            f"HTTP {status} with a non-JSON body starting {excerpt(response.content)!r}; a proxy "
            "or load balancer answered instead of the AI Portrait service"
        )
    else:
        fallback = f"the AI Portrait service answered HTTP {status}"
    if status == 429:
        return RateLimitError(
            "the AI Portrait service is throttling requests (HTTP 429); lower the request rate",
            err_code=code,
            err_message=message,
            **{k: v for k, v in fields.items() if k not in ("code", "server_message")},
        )
    if status == 401:
        return PortraitAuthenticationError(
            "the service refused the signature: the token is probably wrong (check token= / "
            "PAI_PORTRAIT_TOKEN against the AI Portrait page)",
            **fields,
        )
    if status == 400 and code == "EXCEEDED_QUOTA_ERROR":
        return PortraitQuotaError(
            "the account's call quota is used up; top it up on the AI Portrait page", **fields
        )
    if status == 400 and message and "appid" in message.lower():
        return PortraitAuthenticationError(
            "the service does not know this AppId; check app_id= / PAI_PORTRAIT_APP_ID against "
            "the AI Portrait page",
            **fields,
        )
    if status == 404:
        return PortraitNotFoundError(
            "the service has no such model or job: SDXL models must be activated by your "
            "account manager, and job ids come from train()",
            **fields,
        )
    if status in (400, 462):
        return PortraitInputError(_hint(message, fallback), **fields)
    if status == 469:
        cls = (
            FaceCountMismatchError
            if message and "number of faces" in message.lower()
            else PortraitProcessingError
        )
        return cls(_hint(message, fallback), **fields)
    if status >= 500:
        return PortraitServerError(_hint(message, fallback), **fields)
    return PortraitError(fallback, **fields)


def read_portrait(response: Response, call: CallContext) -> Reply:
    """The envelope's ``data``, or the typed error the response describes."""
    if response.status_code != 200:
        raise portrait_error(response, call)
    payload = decode_json_body(
        response, call, service="AI Portrait", endpoint_setting=ENDPOINT_SETTING, request_id=None
    )
    base: dict[str, Any] = {"status_code": 200, "method": call.method, "url": call.url}
    if not isinstance(payload, dict):
        raise ResponseValidationError(
            f"expected a JSON object envelope, got {type(payload).__name__}", **base
        )
    request_id = _text(payload.get("request_id"))
    code = payload.get("code")
    if code != OK:
        raise PortraitError(
            f"the AI Portrait service answered HTTP 200 with code {code!r} instead of 'OK'",
            code=_text(code),
            server_message=_text(payload.get("message")),
            request_id=request_id,
            **base,
        )
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ResponseValidationError(
            "the envelope reports success but carries no data object",
            request_id=request_id,
            **base,
        )
    return Reply(data=data, request_id=request_id)


class PortraitProfile:
    """Signs with an AppId / Token pair; reads the ``code``/``data`` envelope."""

    name = "AI Portrait"
    #: A created portrait comes inline, base64-encoded: allow for a large image.
    max_body = 32 << 20

    def __init__(self, signer: PaiSigner) -> None:
        self.signer = signer

    def __repr__(self) -> str:
        return f"PortraitProfile(app_id={self.signer.app_id!r})"

    def sign(
        self, *, method: str, path: str, body: bytes | None, params: QueryParams | None, now: float
    ) -> Signature:
        signature = self.signer.sign(method=method, path=path, body=body, params=params, now=now)
        headers = {"accept": "application/json", **signature.headers}
        if body is not None:
            headers["content-type"] = "application/json"
        return Signature(headers=headers, string_to_sign=signature.string_to_sign)

    def read(self, response: Response, call: CallContext) -> Reply:
        return read_portrait(response, call)
