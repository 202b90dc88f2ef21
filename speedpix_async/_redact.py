"""Keeping secrets out of text we show: reprs, log lines and exception messages.

Signed URLs (upload PUT URLs, time-limited output URLs) carry their credentials in the query
string, and a URL may carry ``user:password@``, so anything user-visible shows a URL without
either. The HTTP library logs every request's URL at INFO; :func:`protect_http_logs` puts a
filter on its logger that hides the query of signed URLs there too.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["protect_http_logs", "redact_text", "redact_url"]

_URL_WITH_QUERY = re.compile(r"""(https?://[^\s"'<>?#]+)\?[^\s"'<>#]*""", re.IGNORECASE)
_USERINFO = re.compile(r"""(https?://)[^\s"'<>/?#@]+@""", re.IGNORECASE)
#: Query parameters that make a URL a credential (OSS, S3-style and generic signatures).
_SIGNING_PARAMETER = re.compile(
    r"[?&](?:signature|expires|ossaccesskeyid|x-oss-[a-z-]+|x-amz-[a-z-]+|security-token|"
    r"sig|token|access_token)=",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """``url`` without its query string, fragment or credentials (``…`` marks that something
    was removed)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    clean = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    return clean + ("?…" if parts.query else "")


def redact_text(text: str) -> str:
    """Replace the query string and any ``user:password@`` of every http(s) URL in ``text``."""
    text = _USERINFO.sub(lambda m: m.group(1) + "…@", text)
    return _URL_WITH_QUERY.sub(lambda m: m.group(1) + "?…", text)


def _redact_signed(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        signed = _SIGNING_PARAMETER.search(match.group(0))
        return match.group(1) + "?…" if signed else match.group(0)

    return _URL_WITH_QUERY.sub(replace, text)


class _SignedUrlFilter(logging.Filter):
    """Rewrites a record whose message shows a signed URL's query (other URLs stay as they
    are: the filter sits on a logger other code shares)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        clean = _redact_signed(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = _SignedUrlFilter()
#: Loggers of the HTTP stack that print request URLs.
HTTP_LOGGERS = ("httpx",)


def protect_http_logs() -> None:
    """Install the signed-URL filter on the HTTP library's loggers (once; idempotent)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
