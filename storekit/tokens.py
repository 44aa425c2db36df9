"""Access tokens for the API and the dashboard: made here, checked here, stored as SHA-256.

A token is a random string shown once; the catalog keeps only its SHA-256
(``catalog.tokens``). Roles: ``viewer`` reads, ``admin`` does everything. On first start
with no token at all, ``ensure_admin_token`` makes an admin token and returns it once; a
deployment can instead hand in the admin token (``STOREKIT_ADMIN_TOKEN``), which then
becomes the ``admin`` token, replacing the previous one when it rotates.
Both edges use these: the CLI (``storekit token``) and the web's access control.
"""

from __future__ import annotations

import hashlib
import secrets

from .catalog import Catalog, TokenRecord
from .errors import SpecError

MIN_GIVEN_TOKEN = 20


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(catalog: Catalog, name: str, role: str) -> str:
    """A new token named ``name`` with ``role``, returned once."""
    token = "sk_" + secrets.token_urlsafe(32)
    catalog.tokens.add(name, role, token_hash(token))
    return token


def ensure_admin_token(catalog: Catalog, given: str | None = None) -> str | None:
    """Make the first admin token when there is none; return it (to show once) or None.

    With ``given``, that token is the ``admin`` token (made, or its hash replaced) and
    nothing is returned: whoever handed it in knows it already."""
    with catalog.db.connection_context():
        if given is not None:
            if len(given.strip()) < MIN_GIVEN_TOKEN or given != given.strip():
                raise SpecError([("admin_token", f"must be at least {MIN_GIVEN_TOKEN} characters, "
                                                 "without surrounding spaces")], subject="setting")
            existing = catalog.tokens.by_name("admin")
            if existing is None:
                catalog.tokens.add("admin", "admin", token_hash(given))
            elif existing.token_hash != token_hash(given) or existing.role != "admin":
                catalog.tokens.update(existing.id, token_hash=token_hash(given), role="admin")
            return None
        if catalog.tokens.any():
            return None
        return create_token(catalog, "admin", "admin")


def find_token(catalog: Catalog, token: str | None) -> TokenRecord | None:
    """The token's record when ``token`` is valid (and note that it was used), else None."""
    if not token:
        return None
    return catalog.tokens.by_hash(token_hash(token), touch=True)
