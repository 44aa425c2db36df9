"""The dashboard's login cookie: what it holds, how long it lives, and when it is Secure.

The cookie (signed, HttpOnly, SameSite=Lax) holds a session secret and the CSRF token;
the session itself lives in the catalog (``storekit.tokens``), so logout, revoking or
rotating the token, and the token's expiry end it on the server, whatever the browser
kept. It lives ``SESSION_HOURS`` (default 12) at most.

Over TLS (directly, or behind a trusted proxy that says ``X-Forwarded-Proto: https``)
the cookie is ``Secure`` and responses carry ``Strict-Transport-Security``; plain HTTP
(a laptop, a test) keeps working without them.
"""

from __future__ import annotations

from datetime import timedelta

from flask import request
from flask.sessions import SecureCookieSessionInterface

HSTS = "max-age=31536000; includeSubDomains"


class TLSAwareSessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def init_app(app) -> None:
    app.session_interface = TLSAwareSessionInterface()
    app.config["PERMANENT_SESSION_LIFETIME"] = session_lifetime(app)

    @app.after_request
    def strict_transport(response):
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response


def session_lifetime(app) -> timedelta:
    return timedelta(hours=float(app.config.get("SESSION_HOURS", 12)))
