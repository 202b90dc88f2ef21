"""SpeedPix as a profile for the core: API-gateway digest signing and the envelope reader."""

from __future__ import annotations

from .._core.backends import Response
from .._core.profile import CallContext, Reply
from .._signing import GatewaySigner, QueryParams, Signature
from .envelope import read_envelope

__all__ = ["SpeedPixProfile"]


class SpeedPixProfile:
    """Signs with an app key / secret pair; reads the ``status``/``data`` envelope."""

    name = "SpeedPix"

    def __init__(self, signer: GatewaySigner) -> None:
        self.signer = signer

    def __repr__(self) -> str:
        return f"SpeedPixProfile(app_key={self.signer.app_key!r})"

    def sign(
        self, *, method: str, path: str, body: bytes | None, params: QueryParams | None, now: float
    ) -> Signature:
        return self.signer.sign(method=method, path=path, body=body, params=params, now=now)

    def read(self, response: Response, call: CallContext) -> Reply:
        return read_envelope(response, call)
