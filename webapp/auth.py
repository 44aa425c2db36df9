"""Access control: bearer tokens for the API, a session login for the UI, two roles.

- Tokens are random strings; only their SHA-256 is stored (``ApiToken``). On first start
  with no token at all, ``ensure_admin_token`` makes an admin token and returns it once
  (``storekit serve`` prints it); ``storekit token create`` makes more. A deployment can
  instead hand in the admin token (``STOREKIT_ADMIN_TOKEN``, from the chart's Secret): it
  then becomes the ``admin`` token, replacing the previous one when the Secret rotates.
- The API takes ``Authorization: Bearer <token>``; the UI takes the same token at
  ``/login`` and keeps the token's id and role in the (signed, HttpOnly) session.
- Roles: ``viewer`` reads, ``admin`` does everything.
- Every UI form carries a per-session CSRF token; failed logins are rate limited.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from storekit.catalog import ApiToken, Catalog, utcnow
from storekit.errors import SpecError
from storekit.kit import Actor

from .extensions import limiter
from .guards import safe_next

bp = Blueprint("auth", __name__)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(catalog: Catalog, name: str, role: str) -> str:
    if role not in ApiToken.ROLES:
        raise SpecError([("role", f"must be one of {', '.join(ApiToken.ROLES)}")], subject="token")
    catalog.bind()
    if ApiToken.get_or_none(ApiToken.name == name):
        raise SpecError([("name", f"a token named {name!r} exists")], subject="token")
    token = "sk_" + secrets.token_urlsafe(32)
    ApiToken.create(name=name, role=role, token_hash=token_hash(token))
    return token


MIN_GIVEN_TOKEN = 20


def ensure_admin_token(catalog: Catalog, given: str | None = None) -> str | None:
    """Make the first admin token when there is none; return it (to show once) or None.

    With ``given``, that token is the ``admin`` token (made, or its hash replaced) and
    nothing is returned: whoever handed it in knows it already."""
    catalog.bind()
    with catalog.db.connection_context():
        if given is not None:
            if len(given.strip()) < MIN_GIVEN_TOKEN or given != given.strip():
                raise SpecError([("admin_token", f"must be at least {MIN_GIVEN_TOKEN} characters, "
                                                 "without surrounding spaces")], subject="setting")
            existing = ApiToken.get_or_none(ApiToken.name == "admin")
            if existing is None:
                ApiToken.create(name="admin", role="admin", token_hash=token_hash(given))
            elif existing.token_hash != token_hash(given) or existing.role != "admin":
                ApiToken.update(token_hash=token_hash(given), role="admin").where(
                    ApiToken.id == existing.id).execute()
            return None
        if ApiToken.select().exists():
            return None
        return create_token(catalog, "admin", "admin")


def find_token(token: str | None) -> ApiToken | None:
    if not token:
        return None
    found = ApiToken.get_or_none(ApiToken.token_hash == token_hash(token))
    if found:
        ApiToken.update(last_used_at=utcnow()).where(ApiToken.id == found.id).execute()
    return found


def current_identity() -> tuple[str, str] | None:
    """(name, role) of the caller: a bearer token, else the session's login."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        found = find_token(header[7:].strip())
        return (found.name, found.role) if found else None
    if session.get("token_id"):
        found = ApiToken.get_or_none(ApiToken.id == session["token_id"])
        return (found.name, found.role) if found else None
    return None


def actor(source: str) -> Actor:
    name = g.identity[0] if getattr(g, "identity", None) else "anonymous"
    return Actor(name=name, source=source, ip=request.remote_addr)


def require(role: str = "viewer", *, ui: bool = False):
    """Decorator: the caller must be known, and an admin when ``role == 'admin'``."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            identity = current_identity()
            if identity is None:
                if ui:
                    return redirect(url_for("auth.login", next=request.path))
                abort(401, description="a bearer token is required (Authorization: Bearer <token>)")
            if role == "admin" and identity[1] != "admin":
                abort(403, description="this needs the admin role; your token is a viewer token")
            g.identity = identity
            if ui and request.method == "POST":
                check_csrf()
            elif not ui and request.method not in SAFE_METHODS and not _bearer():
                check_api_csrf()
            return view(*args, **kwargs)
        return inner
    return wrap


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "X-CSRF-Token"


def _bearer() -> bool:
    return request.headers.get("Authorization", "").startswith("Bearer ")


def check_api_csrf() -> None:
    """An API write authenticated by the login cookie (not a bearer token) must carry the
    session's CSRF token in ``X-CSRF-Token`` and a JSON body type. A cross-site HTML form
    can set neither, and another site's script cannot read the token."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(403, description=f"a write with the login cookie needs the {CSRF_HEADER} header "
                               "(or use Authorization: Bearer <token>)")
    if request.mimetype != "application/json":
        abort(415, description="a write with the login cookie must send Content-Type: application/json")


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, description="the form expired or did not come from this site; reload and try again")


@bp.app_context_processor
def inject():
    return {"csrf_token": csrf_token, "identity": getattr(g, "identity", None)}


def _login_limit() -> str:
    return current_app.config["LOGIN_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if request.method == "POST":
        check_csrf()
        found = find_token(request.form.get("token", "").strip())
        if found is None:
            flash("That token is not valid.", "error")
            return render_template("login.html"), 401
        session.clear()
        session["token_id"] = found.id
        session["csrf"] = secrets.token_urlsafe(24)
        return redirect(safe_next(request.args.get("next")) or url_for("ui.stores"))
    return render_template("login.html")


@bp.post("/logout")
def logout():
    check_csrf()
    session.clear()
    return redirect(url_for("auth.login"))
