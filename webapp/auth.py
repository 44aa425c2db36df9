"""Access control: bearer tokens for the API, a session login for the UI, two roles.

- Tokens are made and checked by the library (``storekit.tokens``; only their SHA-256 is
  stored): ``storekit serve`` prints the first admin token, ``storekit token create``
  makes more, a deployment may hand in the admin token (``STOREKIT_ADMIN_TOKEN``).
- The API takes ``Authorization: Bearer <token>``; the UI takes the same token at
  ``/login`` and starts a server-side session (``webapp.sessions``) that ends on logout,
  after ``SESSION_HOURS``, and when the token is revoked, rotated or expires.
- Roles: ``viewer`` reads, ``admin`` does everything.
- Every UI form carries a per-session CSRF token; failed logins are rate limited.
"""

from __future__ import annotations

import functools
import hmac
import secrets

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from storekit.recorder import Actor
from storekit.tokens import end_session, find_token, session_token, start_session

from .extensions import limiter
from .guards import safe_next
from .sessions import session_lifetime

bp = Blueprint("auth", __name__)


def current_identity() -> tuple[str, str] | None:
    """(name, role) of the caller: a live bearer token, else the session's live login."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        found = find_token(g.kit.catalog, header[7:].strip())
        return (found.name, found.role) if found else None
    if session.get("sid"):
        found = session_token(g.kit.catalog, session["sid"])
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
        found = find_token(g.kit.catalog, request.form.get("token", "").strip())
        if found is None:
            flash("That token is not valid.", "error")
            return render_template("login.html"), 401
        end_session(g.kit.catalog, session.get("sid"))
        session.clear()
        session.permanent = True  # the cookie expires with the server-side session
        session["sid"] = start_session(g.kit.catalog, found, lifetime=session_lifetime(current_app))
        session["csrf"] = secrets.token_urlsafe(24)
        return redirect(safe_next(request.args.get("next")) or url_for("ui.stores"))
    return render_template("login.html")


@bp.post("/logout")
def logout():
    check_csrf()
    end_session(g.kit.catalog, session.get("sid"))  # a copy of the cookie stops working too
    session.clear()
    return redirect(url_for("auth.login"))
