"""Access tokens for the API and the dashboard, and the dashboard's login sessions.

A token is a random string shown once; the catalog keeps only its SHA-256
(``catalog.tokens``). Roles: ``viewer`` reads, ``admin`` does everything. A token may
expire (``expires_in``), and is revoked or rotated by name; both are audited. On first
start with no token at all, ``ensure_admin_token`` makes an admin token and returns it
once; a deployment can instead hand in the admin token (``STOREKIT_ADMIN_TOKEN``), which
then becomes the ``admin`` token, replacing the previous one when it rotates.

A dashboard login is a session row keyed by the SHA-256 of a random secret that only the
browser's cookie holds. It is valid while it has not ended (logout), not expired (a
bounded lifetime), and its token is live with the same hash as at login: revoking or
rotating a token, or its expiry, ends every session made with it, server-side.

Both edges use these: the CLI (``storekit token``) and the web's access control.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from peewee import IntegrityError

from .catalog import Catalog, TokenRecord, utcnow
from .errors import SpecError, StorekitError

MIN_GIVEN_TOKEN = 20
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_DURATION = re.compile(r"([0-9]{1,5})([mhd])")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


class TokenNotFound(StorekitError):
    exit_code = 3
    http_status = 404
    kind = "not_found"

    def __init__(self, name: str):
        super().__init__(f"no token named '{name}'", hint="List them with `storekit token list`.")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_duration(text: str | None, *, field: str = "expires_in") -> timedelta | None:
    """``90m``, ``12h``, ``30d`` (up to 99999 units), or None for no expiry."""
    if text is None or text == "":
        return None
    m = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if not m or int(m[1]) == 0:
        raise SpecError([(field, "must be like 90m, 12h or 30d")], subject="token")
    return timedelta(seconds=int(m[1]) * _UNITS[m[2]])


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise SpecError([("name", "must be 1-80 letters, digits, '.', '_' or '-', starting with a letter "
                                  "or digit")], subject="token")


def _audit(catalog: Catalog, action: str, token: TokenRecord, actor, **details) -> None:
    catalog.audit(action, resource_type="token", resource_id=str(token.id), resource_name=token.name,
                  actor=actor.name if actor else "storekit", source=actor.source if actor else "library",
                  ip_address=getattr(actor, "ip", None), details={"role": token.role, **details})


def create_token(catalog: Catalog, name: str, role: str, *, expires_in: timedelta | None = None,
                 actor=None) -> str:
    """A new token named ``name`` with ``role``, returned once."""
    _check_name(name)
    token = "sk_" + secrets.token_urlsafe(32)
    expires_at = utcnow() + expires_in if expires_in else None
    with catalog.db.connection_context():
        record = catalog.tokens.add(name, role, token_hash(token), expires_at=expires_at)
        _audit(catalog, "token-create", record, actor, expires_at=str(expires_at) if expires_at else None)
    return token


def list_tokens(catalog: Catalog) -> list[dict]:
    """Every token (never its value): name, role, state, created, last used, expiry."""
    now = utcnow()
    with catalog.db.connection_context():
        return [{**t.to_dict(), "state": t.state(now)} for t in catalog.tokens.all()]


def _named(catalog: Catalog, name: str) -> TokenRecord:
    found = catalog.tokens.by_name(name) if isinstance(name, str) else None
    if found is None:
        raise TokenNotFound(str(name)[:80])
    return found


def revoke_token(catalog: Catalog, name: str, *, actor=None) -> dict:
    """Revoke a token for good; every dashboard session made with it ends at once."""
    with catalog.db.connection_context(), catalog.db.atomic():
        token = _named(catalog, name)
        if token.revoked_at is None:
            catalog.tokens.update(token.id, revoked_at=utcnow())
        ended = catalog.tokens.end_sessions(token.id)
        _audit(catalog, "token-revoke", token, actor, sessions_ended=ended)
    return {"name": token.name, "state": "revoked", "sessions_ended": ended}


def rotate_token(catalog: Catalog, name: str, *, expires_in: timedelta | None = None, actor=None) -> str:
    """A new value for the token ``name`` (same name and role), returned once. The old
    value stops working and every session made with it ends; a revoked token stays revoked."""
    new = "sk_" + secrets.token_urlsafe(32)
    with catalog.db.connection_context(), catalog.db.atomic():
        token = _named(catalog, name)
        if token.revoked_at is not None:
            raise SpecError([("name", f"token '{token.name}' is revoked; create a new one")], subject="token")
        expires_at = utcnow() + expires_in if expires_in else token.expires_at
        catalog.tokens.update(token.id, token_hash=token_hash(new), expires_at=expires_at)
        ended = catalog.tokens.end_sessions(token.id)
        _audit(catalog, "token-rotate", token, actor, sessions_ended=ended)
    return new


def ensure_admin_token(catalog: Catalog, given: str | None = None) -> str | None:
    """Make the first admin token when there is none; return it (to show once) or None.

    With ``given``, that token is the ``admin`` token (made, or its hash replaced, live
    again if it was revoked or expired) and nothing is returned: whoever handed it in
    knows it already. A changed value ends the sessions made with the old one."""
    with catalog.db.connection_context():
        if given is not None:
            if len(given.strip()) < MIN_GIVEN_TOKEN or given != given.strip():
                raise SpecError([("admin_token", f"must be at least {MIN_GIVEN_TOKEN} characters, "
                                                 "without surrounding spaces")], subject="setting")
            existing = catalog.tokens.by_name("admin")
            if existing is None:
                try:
                    catalog.tokens.add("admin", "admin", token_hash(given))
                    return None
                except (IntegrityError, SpecError):  # a replica starting at the same moment made it: check it
                    existing = catalog.tokens.by_name("admin")
            if (existing.token_hash != token_hash(given) or existing.role != "admin"
                    or existing.revoked_at or existing.expires_at):
                catalog.tokens.update(existing.id, token_hash=token_hash(given), role="admin",
                                      revoked_at=None, expires_at=None)
                catalog.tokens.end_sessions(existing.id)
            return None
        if catalog.tokens.any():
            return None
        try:
            return create_token(catalog, "admin", "admin")
        except (IntegrityError, SpecError):  # a replica starting at the same moment made the first one
            return None


def _live(token: TokenRecord | None, now: datetime) -> TokenRecord | None:
    return token if token is not None and token.state(now) == "active" else None


def find_token(catalog: Catalog, token: str | None) -> TokenRecord | None:
    """The token's record when ``token`` is valid and live (and note that it was used), else None."""
    if not token or len(token) > 200:
        return None
    return _live(catalog.tokens.by_hash(token_hash(token), touch=True), utcnow())


# ---- dashboard sessions ------------------------------------------------------------------

def start_session(catalog: Catalog, token: TokenRecord, *, lifetime: timedelta) -> str:
    """A new login for ``token``; returns the secret for the cookie (only its hash is kept)."""
    secret = secrets.token_urlsafe(32)
    expires_at = utcnow() + lifetime
    if token.expires_at is not None:
        expires_at = min(expires_at, token.expires_at)
    catalog.tokens.add_session(token_hash(secret), token, expires_at)
    if secrets.randbelow(50) == 0:  # now and then, forget old sessions
        catalog.tokens.purge_sessions(utcnow() - timedelta(days=7))
    return secret


def session_token(catalog: Catalog, secret: str | None) -> TokenRecord | None:
    """The live token behind a session secret, or None when the session is unknown, ended
    or expired, or its token was revoked, rotated or expired since the login."""
    if not isinstance(secret, str) or not secret or len(secret) > 200:
        return None
    now = utcnow()
    row = catalog.tokens.session(token_hash(secret))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    token = _live(catalog.tokens.by_id(row.token_id), now)
    return token if token is not None and token.token_hash == row.token_hash else None


def end_session(catalog: Catalog, secret: str | None) -> None:
    if isinstance(secret, str) and secret:
        catalog.tokens.end_session(token_hash(secret))
