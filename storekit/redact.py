"""Credentials never leave storekit in its output: one place that hides them.

Settings such as ``STOREKIT_STATE_URL`` (``postgres://user:password@host/db``) and
``STOREKIT_DB_URL`` may carry a password. Plans, ``storekit config``, error messages, logs
and API responses show such a URL only through ``redact_url``, which keeps everything an
operator needs to recognise the backend (scheme, user, host, database) and replaces the
password with ``(sensitive)``. ``redact_text`` does the same inside free text (an error
message quoting a URL), and ``clip`` bounds a value quoted back in an error message.
"""

from __future__ import annotations

import re
from typing import Any

SENSITIVE = "(sensitive)"

# scheme://user:password@host  ->  scheme://user:(sensitive)@host
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/?#@\s]*):(?P<pw>[^@/?#\s]*)@")
# query parameters that carry a credential: ?password=..., &sslpassword=..., &secret=...
_QUERY = re.compile(r"(?P<key>[?&](?:[A-Za-z_]*(?:password|passwd|secret|token|key)[A-Za-z_]*)=)(?P<value>[^&#\s]*)",
                    re.IGNORECASE)


def redact_url(url: Any) -> Any:
    """``url`` with any password (userinfo or a credential query parameter) hidden."""
    if not isinstance(url, str):
        return url
    return redact_text(url)


def redact_text(text: str) -> str:
    """Every URL password inside ``text`` hidden."""
    if not isinstance(text, str) or "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{SENSITIVE}@" if m["pw"] else m[0], text)
    return _QUERY.sub(lambda m: f"{m['key']}{SENSITIVE}", text)


def clip(value: Any, limit: int = 80) -> str:
    """A short, printable rendering of an input value for an error message."""
    text = repr(value) if not isinstance(value, str) else value
    text = "".join(c if c.isprintable() else "?" for c in text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "..."
