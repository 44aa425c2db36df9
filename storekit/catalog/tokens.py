"""Token and login-session queries: the part of the catalog access control uses.

Tokens are rows of (name, role, SHA-256 of the token, expiry, revocation); dashboard
sessions are rows keyed by the SHA-256 of the cookie's secret, tied to the token and to the
token's hash at login. What a token is and when it is valid is decided by the caller
(``storekit.tokens``); this module only stores and reads.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import SpecError
from .models import utcnow
from .records import TOKEN_ROLES, SessionRecord, TokenRecord


def _token(row) -> TokenRecord:
    return TokenRecord(id=row.id, name=row.name, role=row.role, token_hash=row.token_hash,
                       created_at=row.created_at, last_used_at=row.last_used_at,
                       expires_at=row.expires_at, revoked_at=row.revoked_at)


def _session(row) -> SessionRecord:
    return SessionRecord(id=row.id, token_id=row.token_id, token_hash=row.token_hash, created_at=row.created_at,
                         expires_at=row.expires_at, ended_at=row.ended_at)


class TokenRepository:
    def __init__(self, db, models):
        self.db, self.ApiToken, self.WebSession = db, models.ApiToken, models.WebSession

    def add(self, name: str, role: str, token_hash: str, *, expires_at: datetime | None = None) -> TokenRecord:
        if role not in TOKEN_ROLES:
            raise SpecError([("role", f"must be one of {', '.join(TOKEN_ROLES)}")], subject="token")
        with self.db.atomic():
            if self.ApiToken.get_or_none(self.ApiToken.name == name):
                raise SpecError([("name", f"a token named {name!r} exists")], subject="token")
            row = self.ApiToken.create(name=name, role=role, token_hash=token_hash, expires_at=expires_at)
        return _token(row)

    def by_hash(self, token_hash: str, *, touch: bool = False) -> TokenRecord | None:
        row = self.ApiToken.get_or_none(self.ApiToken.token_hash == token_hash)
        if row is not None and touch:
            self.ApiToken.update(last_used_at=utcnow()).where(self.ApiToken.id == row.id).execute()
        return _token(row) if row else None

    def by_id(self, token_id: int) -> TokenRecord | None:
        row = self.ApiToken.get_or_none(self.ApiToken.id == token_id)
        return _token(row) if row else None

    def by_name(self, name: str) -> TokenRecord | None:
        row = self.ApiToken.get_or_none(self.ApiToken.name == name)
        return _token(row) if row else None

    def all(self) -> list[TokenRecord]:
        return [_token(r) for r in self.ApiToken.select().order_by(self.ApiToken.id)]

    def any(self) -> bool:
        return self.ApiToken.select().exists()

    def update(self, token_id: int, **fields) -> None:
        self.ApiToken.update(**fields).where(self.ApiToken.id == token_id).execute()

    def remove(self, token_id: int) -> bool:
        return bool(self.ApiToken.delete().where(self.ApiToken.id == token_id).execute())

    # ---- dashboard sessions --------------------------------------------------------

    def add_session(self, session_id: str, token: TokenRecord, expires_at: datetime) -> SessionRecord:
        row = self.WebSession.create(id=session_id, token_id=token.id, token_hash=token.token_hash,
                                     expires_at=expires_at)
        return _session(row)

    def session(self, session_id: str) -> SessionRecord | None:
        row = self.WebSession.get_or_none(self.WebSession.id == session_id)
        return _session(row) if row else None

    def end_session(self, session_id: str) -> None:
        self.WebSession.update(ended_at=utcnow()).where(
            (self.WebSession.id == session_id) & self.WebSession.ended_at.is_null()).execute()

    def end_sessions(self, token_id: int) -> int:
        """End every open session of a token; how many were open."""
        return self.WebSession.update(ended_at=utcnow()).where(
            (self.WebSession.token_id == token_id) & self.WebSession.ended_at.is_null()).execute()

    def purge_sessions(self, before: datetime) -> int:
        """Forget sessions that expired or ended before ``before``."""
        return self.WebSession.delete().where(
            (self.WebSession.expires_at < before) | (self.WebSession.ended_at < before)).execute()
