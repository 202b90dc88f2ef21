"""Which proxy, if any, a request goes through: ``HTTP(S)_PROXY`` / ``ALL_PROXY`` /
``NO_PROXY`` from the environment, read once per pool as httpx reads them.

(aiohttp's own ``trust_env`` looks them up, and a ``.netrc``, in a worker thread for every
request — a thread hop that cost more than the request.)
"""

from __future__ import annotations

import urllib.request

__all__ = ["Proxies"]

#: ``NO_PROXY`` matching, as urllib (and httpx) read it; typeshed does not list it.
_bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]


class Proxies:
    """The proxy URL for each (scheme, host), or None to connect directly."""

    def __init__(self) -> None:
        self._environment = urllib.request.getproxies_environment()
        self._by_origin: dict[tuple[str, str], str | None] = {}

    def __call__(self, scheme: str, host: str) -> str | None:
        origin = (scheme, host)
        if origin not in self._by_origin:
            proxy = self._environment.get(scheme) or self._environment.get("all")
            if proxy and _bypass(host, self._environment):
                proxy = None
            if proxy and "://" not in proxy:
                proxy = "http://" + proxy  # "host:port", as httpx reads it
            self._by_origin[origin] = proxy
        return self._by_origin[origin]
