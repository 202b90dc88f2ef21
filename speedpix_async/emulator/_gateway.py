"""What the API gateway checks before a request reaches SpeedPix (docs/protocol.md, "Gateway").

The order is the gateway's: app key, timestamp format, timestamp window, nonce,
Content-MD5, signature. The digest is computed over the *raw received bytes* — never a
re-serialization — with the same pure functions the client signs with, whose correctness the
worked vectors in docs/protocol.md pin down independently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import attrs

from .._signing import canonical_path, content_md5, gateway_signature, gateway_string_to_sign

__all__ = ["NONCE_WINDOW", "TIMESTAMP_WINDOW", "GatewayAuth", "Rejection"]

#: X-Ca-Timestamp is valid for 15 minutes either side of the gateway's clock.
TIMESTAMP_WINDOW = 15 * 60.0
#: A nonce may not be reused within 15 minutes.
NONCE_WINDOW = 15 * 60.0
#: Purge expired nonces after this many insertions, keeping memory bounded under load.
_NONCE_PURGE_EVERY = 4096


@attrs.frozen
class Rejection:
    """A gateway refusal: HTTP status, the ``X-Ca-Error-Message`` and a stats reason."""

    status: int
    message: str
    reason: str


class GatewayAuth:
    """Verifies API-gateway digest signatures for a set of app key → secret pairs."""

    def __init__(
        self, credentials: Mapping[str, str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._credentials = dict(credentials)
        self._clock = clock
        self._nonces: dict[str, float] = {}
        self._inserts = 0
        self._lock = threading.Lock()

    def knows(self, key: str | None) -> bool:
        """Whether ``key`` is an app key this gateway accepts (checked from the headers alone,
        before a body is read)."""
        return bool(key) and key in self._credentials

    def verify(
        self,
        *,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Rejection | None:
        """``None`` when the request passes; otherwise why the gateway refuses it.

        ``headers`` must map lower-case names to values.
        """
        key = headers.get("x-ca-key", "")
        secret = self._credentials.get(key)
        if not key or secret is None:
            return Rejection(400, "Invalid AppKey", "invalid_app_key")
        signature = headers.get("x-ca-signature")
        if not signature:
            return Rejection(401, "Empty Signature", "empty_signature")
        raw_ts = headers.get("x-ca-timestamp")
        now = self._clock()
        if raw_ts is not None:
            if not raw_ts.isdigit():
                return Rejection(400, "Invalid Timestamp", "invalid_timestamp")
            if abs(int(raw_ts) / 1000.0 - now) > TIMESTAMP_WINDOW:
                return Rejection(400, "Timestamp Expired", "timestamp_expired")
        nonce = headers.get("x-ca-nonce")
        if nonce is not None and self._nonce_seen(nonce, now):
            return Rejection(400, "Nonce Used", "nonce_used")
        md5 = headers.get("content-md5")
        if md5 is not None and md5 != content_md5(body):
            return Rejection(400, "Invalid Content-MD5", "invalid_content_md5")
        signed_names = headers.get("x-ca-signature-headers", "").split(",")
        sts = gateway_string_to_sign(
            method=method,
            accept=headers.get("accept"),
            content_md5=md5,
            content_type=headers.get("content-type"),
            date=headers.get("date"),
            headers=headers,
            signed_header_names=signed_names,
            path_and_parameters=canonical_path(path, query),
        )
        algorithm = headers.get("x-ca-signature-method", "HmacSHA256")
        try:
            expected = gateway_signature(secret, sts, algorithm)
        except ValueError:
            expected = ""
        if expected != signature:
            # Header values cannot carry newlines; the gateway writes them as '#'.
            return Rejection(
                400,
                "Invalid Signature, Server StringToSign:" + sts.replace("\n", "#"),
                "invalid_signature",
            )
        if nonce is not None and not self._remember(nonce, now):
            return Rejection(400, "Nonce Used", "nonce_used")
        return None

    def _nonce_seen(self, nonce: str, now: float) -> bool:
        with self._lock:
            expiry = self._nonces.get(nonce)
            return expiry is not None and expiry > now

    def _remember(self, nonce: str, now: float) -> bool:
        """Record ``nonce``; False if another request recorded it first (a concurrent replay).

        Only authenticated requests consume a nonce, so garbage cannot burn real ones.
        """
        with self._lock:
            expiry = self._nonces.get(nonce)
            if expiry is not None and expiry > now:
                return False
            self._nonces[nonce] = now + NONCE_WINDOW
            self._inserts += 1
            if self._inserts % _NONCE_PURGE_EVERY == 0:
                self._nonces = {n: e for n, e in self._nonces.items() if e > now}
            return True
