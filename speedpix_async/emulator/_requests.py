"""Facts about an incoming request that several routes need."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

__all__ = ["is_loopback", "public_url"]


def public_url(request: Request) -> str:
    """The base URL as the client used it; output URLs are built on it."""
    return str(request.base_url).rstrip("/")


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
