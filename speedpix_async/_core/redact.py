"""Keeping secrets out of text we show: reprs, log lines and exception messages.

Signed URLs (upload PUT URLs, time-limited output URLs) carry their credentials in the query
string, so anything user-visible shows a URL without it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_text", "redact_url"]

_URL_WITH_QUERY = re.compile(r"""(https?://[^\s"'<>?#]+)\?[^\s"'<>#]*""", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` without its query string or fragment (``…`` marks that something was removed)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    clean = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    return clean + ("?…" if parts.query else "")


def redact_text(text: str) -> str:
    """Replace the query string of every http(s) URL inside ``text``."""
    return _URL_WITH_QUERY.sub(lambda m: m.group(1) + "?…", text)
