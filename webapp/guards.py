"""The edge's guards: what every request must satisfy before a view sees it.

- **Size**: bodies above ``MAX_CONTENT_LENGTH`` (64 KiB by default) are refused with 413
  before they are read; waitress gets the same cap (``storekit serve``).
- **JSON bodies**: ``json_body()`` parses with a nesting limit and gives one 400 naming
  ``body`` for anything that is not a JSON object (not JSON, wrong type, too deep).
- **Query numbers**: ``int_arg()`` accepts ASCII digits in a range, nothing else.
- **Client addresses**: behind trusted proxies, an ``X-Forwarded-For`` value that is not
  an IP address is ignored (the proxy's own address is used), so limits and the audit
  trail never store an attacker's string.
- **Redirects**: ``safe_next()`` keeps a post-login target only when it is a local path.
- **Caching**: every response but static files says ``Cache-Control: no-store``; nothing
  a browser or proxy keeps can hold a token, a password or a plan.
"""

from __future__ import annotations

import ipaddress
import json
import re

from flask import request
from werkzeug.routing import BaseConverter

from storekit.errors import SpecError
from storekit.redact import clip

MAX_JSON_DEPTH = 32
_DIGITS = re.compile(r"[0-9]{1,9}")
_LOCAL_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*")


def _depth(value, limit: int) -> int:
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def json_body(*, required: bool = True) -> dict:
    """The request's JSON object; an empty body is ``{}`` when not ``required``."""
    raw = request.get_data(cache=True)
    if not raw.strip() and not required:
        return {}
    if request.mimetype != "application/json":
        raise SpecError([("body", "must be JSON (Content-Type: application/json)")], subject="request")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise SpecError([("body", "must be valid JSON")], subject="request") from e
    if not isinstance(data, dict):
        raise SpecError([("body", "must be a JSON object")], subject="request")
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise SpecError([("body", f"must nest at most {MAX_JSON_DEPTH} levels")], subject="request")
    return data


def int_arg(name: str, default: int, low: int, high: int, *, subject: str = "request") -> int:
    """A whole-number query parameter in ``low..high`` (ASCII digits only)."""
    text = request.args.get(name)
    if text is None:
        return default
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise SpecError([(name, f"must be a whole number from {low} to {high}")], subject=subject)
    return int(text)


def text_arg(name: str, *, max_length: int = 120, subject: str = "request") -> str | None:
    """A printable query parameter of bounded length, or None when absent or empty."""
    text = request.args.get(name)
    if not text:
        return None
    if len(text) > max_length or not text.isprintable():
        raise SpecError([(name, f"must be printable text of at most {max_length} characters "
                                f"(got {clip(text, 40)!r})")], subject=subject)
    return text


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site ("/stores/x?tab=logs"), else None.

    Refused: a scheme or host (``https://evil``, ``//evil``), a backslash (browsers read
    ``/\\evil`` as ``//evil``), control characters or spaces, anything over 512 characters."""
    if not target or len(target) > 512 or target.startswith("//") or not _LOCAL_PATH.fullmatch(target):
        return None
    return target


class BoundedClientAddress:
    """WSGI middleware (inside ProxyFix): a REMOTE_ADDR that is not an IP address, as an
    over-long or forged ``X-Forwarded-For`` makes it, falls back to the proxy's address."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        addr = environ.get("REMOTE_ADDR") or ""
        try:
            environ["REMOTE_ADDR"] = str(ipaddress.ip_address(addr.strip()))
        except ValueError:
            original = (environ.get("werkzeug.proxy_fix.orig") or {}).get("REMOTE_ADDR")
            environ["REMOTE_ADDR"] = original or "0.0.0.0"
        return self.app(environ, start_response)


def no_store(response):
    """after_request: no cache may keep a response (they can carry secrets); static files may."""
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
    return response


class SlugConverter(BaseConverter):
    """``<slug:slug>``: only what ``slugify`` can produce (57 characters at most) routes;
    anything else (a NUL byte, a megabyte of text) is a plain 404 before any query."""

    regex = r"[a-z0-9](?:[a-z0-9-]{0,55}[a-z0-9])?"


class NameConverter(BaseConverter):
    """``<name:pod>``: a Kubernetes object name (DNS-1123 subdomain, 253 characters at most)."""

    regex = r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?"


class PlanIdConverter(BaseConverter):
    """``<planid:plan_id>``: a saved plan's id (32 hex digits)."""

    regex = r"[0-9a-f]{32}"


class TokenNameConverter(BaseConverter):
    """``<token:name>``: what ``storekit.tokens`` accepts as a token's name."""

    regex = r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}"


def string_fields(data: dict, limits: dict[str, int], *, subject: str = "store spec") -> None:
    """Every present field of ``limits`` is a string of at most its length (one SpecError)."""
    problems = []
    for name, limit in limits.items():
        if name not in data:
            continue
        value = data[name]
        if not isinstance(value, str):
            problems.append((name, f"must be a string (got {type(value).__name__})"))
        elif len(value) > limit:
            problems.append((name, f"must be at most {limit} characters (got {len(value)})"))
    if problems:
        raise SpecError(problems, subject=subject)
