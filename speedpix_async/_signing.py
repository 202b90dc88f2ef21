"""Request signing for both services, as pure functions over exact bytes.

Two schemes live here:

* the Alibaba Cloud API Gateway *digest* signature that fronts SpeedPix
  (docs/protocol.md, "Gateway"), and
* the PAI AI Portrait ``Authorization: <AppId>:<hex hmac>`` scheme
  (docs/protocol.md, "AI Portrait").

Everything takes the body as the bytes that will be sent. Nothing here serializes JSON: the caller
serializes once and passes the same bytes to the signer and to the socket, so the digest can never
drift from what the server receives (the official Python SDK's bug, docs/protocol.md,
"Official SDK behaviour").

The emulator verifies with the same functions, which is safe because the worked vectors in
docs/protocol.md pin them down independently of either side.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import time
from collections.abc import Iterable, Mapping, Sequence

import attrs

__all__ = [
    "GATEWAY_ACCEPT",
    "GATEWAY_CONTENT_TYPE",
    "GatewaySigner",
    "PaiSigner",
    "Signature",
    "canonical_path",
    "content_md5",
    "gateway_date",
    "gateway_signature",
    "gateway_string_to_sign",
    "md5_hex",
    "pai_sign_string",
    "pai_signature",
    "random_nonce",
]

#: Both SDKs send and sign exactly this value for Accept and Content-Type.
GATEWAY_ACCEPT = "application/json; charset=utf-8"
GATEWAY_CONTENT_TYPE = "application/json; charset=utf-8"

#: The x-ca-* headers we sign, in the order the official SDKs list them; the server sorts them.
SIGNED_HEADER_NAMES = ("x-ca-timestamp", "x-ca-key", "x-ca-nonce", "x-ca-signature-method")

#: Headers that have their own line in the StringToSign and never appear in the Headers block.
_NOT_IN_HEADERS_BLOCK = frozenset(
    {"x-ca-signature", "x-ca-signature-headers", "accept", "content-md5", "content-type", "date"}
)

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

QueryParams = Mapping[str, str | Sequence[str]]


def content_md5(body: bytes) -> str:
    """Base64 of the 16-byte MD5 digest of ``body`` (the ``Content-MD5`` header value)."""
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


def md5_hex(body: bytes) -> str:
    """Lower-case hex MD5 of ``body`` (the PAI signature's body digest)."""
    return hashlib.md5(body).hexdigest()


def random_nonce() -> str:
    """A random version-4 UUID's text, as the official SDKs send for ``x-ca-nonce``.

    The same 122 random bits as ``str(uuid.uuid4())``, formatted directly: a third of the cost,
    which a fan-out pays on every request."""
    digits = os.urandom(16).hex()
    variant = "89ab"[int(digits[16], 16) & 3]  # the RFC 4122 variant: 10xx
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def gateway_date(epoch_seconds: float) -> str:
    """The ``date`` header exactly as both official SDKs write it, e.g.
    ``Tue, 14 Nov 2023 22:13:20 GMT+00:00``.

    The ``+00:00`` suffix is not RFC 7231, but it is what the SDKs send and sign,
    so we match it byte for byte. Day and month names are fixed English, never locale-dependent.
    """
    return _date_of_second(int(epoch_seconds))


@functools.lru_cache(maxsize=4)
def _date_of_second(second: int) -> str:
    # Every request of the same second has the same date: a fan-out formats it once.
    t = time.gmtime(second)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT+00:00"
    )


def canonical_path(path: str, params: QueryParams | None = None) -> str:
    """``PathAndParameters`` of the gateway StringToSign: the path, then sorted query parameters.

    Keys are sorted; only the first value of a multi-valued key counts; a key whose value is
    empty is written bare (``k``, not ``k=``).
    """
    if not params:
        return path
    items: list[str] = []
    for key in sorted(params):
        raw = params[key]
        value = raw if isinstance(raw, str) else (raw[0] if raw else "")
        items.append(f"{key}={value}" if value else key)
    return f"{path}?{'&'.join(items)}"


def gateway_string_to_sign(
    *,
    method: str,
    accept: str | None,
    content_md5: str | None,
    content_type: str | None,
    date: str | None,
    headers: Mapping[str, str],
    signed_header_names: Iterable[str],
    path_and_parameters: str,
) -> str:
    """Build the API-gateway StringToSign (docs/protocol.md, "Gateway").

    ``headers`` maps *lower-case* header names to values; ``signed_header_names`` is the list from
    ``x-ca-signature-headers``. An absent Accept/Content-MD5/Content-Type/Date still contributes
    its (empty) line.
    """
    names = _block_names(tuple(signed_header_names))
    header_block = "".join(f"{name}:{headers.get(name, '')}\n" for name in names)
    return (
        f"{method.upper()}\n"
        f"{accept or ''}\n"
        f"{content_md5 or ''}\n"
        f"{content_type or ''}\n"
        f"{date or ''}\n"
        f"{header_block}"
        f"{path_and_parameters}"
    )


@functools.lru_cache(maxsize=16)
def _block_names(signed_header_names: tuple[str, ...]) -> list[str]:
    """The names of the Headers block, sorted (the same short list for every request we sign)."""
    return sorted(
        {n.strip().lower() for n in signed_header_names if n.strip()} - _NOT_IN_HEADERS_BLOCK
    )


def gateway_signature(secret: str, string_to_sign: str, method: str = "HmacSHA256") -> str:
    """Base64 HMAC of the StringToSign with the app secret (``HmacSHA256`` or ``HmacSHA1``)."""
    if method == "HmacSHA256":
        digest = "sha256"
    elif method == "HmacSHA1":
        digest = "sha1"
    else:
        raise ValueError(f"unsupported x-ca-signature-method {method!r}")
    # hmac.digest with a digest name is OpenSSL's one-shot HMAC, several times cheaper than
    # building an hmac.HMAC object.
    mac = hmac.digest(secret.encode("utf-8"), string_to_sign.encode("utf-8"), digest)
    return base64.b64encode(mac).decode("ascii")


@attrs.frozen(kw_only=True)
class Signature:
    """The outcome of signing one request attempt (either scheme)."""

    headers: dict[str, str]
    """Headers to add to the request, including the signature itself."""
    string_to_sign: str
    """Kept so a rejected signature can be shown next to the server's own string."""


@attrs.frozen
class GatewaySigner:
    """Signs SpeedPix requests with an app key / app secret pair.

    Every call produces a new nonce and timestamp: the gateway rejects a reused nonce, so a retry
    must never resend the headers of an earlier attempt.
    """

    app_key: str
    app_secret: str = attrs.field(repr=False)

    def sign(
        self,
        *,
        method: str,
        path: str,
        body: bytes | None,
        params: QueryParams | None = None,
        now: float | None = None,
        nonce: str | None = None,
    ) -> Signature:
        """Sign one attempt. ``now`` (epoch seconds) and ``nonce`` are injectable for tests."""
        when = time.time() if now is None else now
        headers: dict[str, str] = {
            "x-ca-key": self.app_key,
            "x-ca-timestamp": str(int(when * 1000)),
            "x-ca-nonce": nonce or random_nonce(),
            "x-ca-signature-method": "HmacSHA256",
            "x-ca-signature-headers": ",".join(SIGNED_HEADER_NAMES),
            "accept": GATEWAY_ACCEPT,
            "content-type": GATEWAY_CONTENT_TYPE,
            "date": gateway_date(when),
        }
        md5: str | None = None
        if body is not None:
            md5 = content_md5(body)
            headers["content-md5"] = md5
        sts = gateway_string_to_sign(
            method=method,
            accept=headers["accept"],
            content_md5=md5,
            content_type=headers["content-type"],
            date=headers["date"],
            headers=headers,
            signed_header_names=SIGNED_HEADER_NAMES,
            path_and_parameters=canonical_path(path, params),
        )
        headers["x-ca-signature"] = gateway_signature(self.app_secret, sts)
        return Signature(headers=headers, string_to_sign=sts)


# --------------------------------------------------------------------------------------------
# PAI AI Portrait
# --------------------------------------------------------------------------------------------


def pai_sign_string(method: str, body: bytes, path: str, params: QueryParams | None = None) -> str:
    """``METHOD\\n md5_hex(body) \\n PATH[?canonical_query]``.

    The canonical query sorts keys, skips ``sign``, uses the first value and writes ``k=v`` even
    for an empty value (unlike the gateway scheme).
    """
    query = ""
    if params:
        items = []
        for key in sorted(params):
            if key == "sign":
                continue
            raw = params[key]
            value = raw if isinstance(raw, str) else (raw[0] if raw else "")
            items.append(f"{key}={value}")
        query = "?" + "&".join(items) if items else ""
    return f"{method.upper()}\n{md5_hex(body)}\n{path}{query}"


def pai_signature(token: str, sign_string: str) -> str:
    """Lower-case hex HMAC-SHA256 of the sign string keyed by the PAI token."""
    return hmac.digest(token.encode("utf-8"), sign_string.encode("utf-8"), "sha256").hex()


@attrs.frozen
class PaiSigner:
    """Signs AI Portrait requests with an AppId / Token pair."""

    app_id: str
    token: str = attrs.field(repr=False)

    def sign(
        self,
        *,
        method: str,
        path: str,
        body: bytes | None,
        params: QueryParams | None = None,
        now: float | None = None,
    ) -> Signature:
        sign_string = pai_sign_string(method, body or b"", path, params)
        when = time.time() if now is None else now
        headers = {
            "authorization": f"{self.app_id}:{pai_signature(self.token, sign_string)}",
            # Sent by every official SDK but not covered by the signature.
            "x-request-time": str(int(when)),
        }
        return Signature(headers=headers, string_to_sign=sign_string)
