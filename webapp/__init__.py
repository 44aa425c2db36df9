"""storekit's dashboard and REST API: a small Flask app over the storekit library.

``create_app(test_config=None)`` builds it: settings from ``STOREKIT_*`` (the library's
``Settings``), one ``Storekit`` per app, the catalog connected per request, one
blueprint per area (``api``, ``ui``, ``auth``, ``health``), flask-limiter for rate
limits, security headers on every response, and JSON errors for the API. Long work
(create, change, delete) is queued as jobs that a ``WorkerPool`` runs (``storekit serve``
starts one inside the server; ``storekit worker`` runs more as separate processes).
"""

from __future__ import annotations

import secrets
from flask import Flask, abort, g
from peewee import OperationalError

from storekit.kit import Storekit
from storekit.recorder import Actor
from storekit.files import secret_file
from storekit.redact import redact_text
from storekit.metrics import Metrics
from storekit.service import StoreService
from storekit.settings import Settings

from . import sessions
from .extensions import limiter
from .guards import (BoundedClientAddress, NameConverter, PlanIdConverter, SlugConverter, TokenNameConverter,
                     no_store)

DEFAULTS = {
    "MAX_STORES": 10,
    "CREATE_LIMIT": "5 per minute",
    "ACTION_LIMIT": "10 per minute",
    "LOGIN_LIMIT": "5 per minute",
    "PLAN_LIMIT": "10 per minute",  # per token: each plan runs the engine
    "RATELIMIT_STORAGE_URI": "memory://",
    # Proxies in front that set X-Forwarded-For/-Proto/-Host (an ingress controller: 1).
    # Rate limits and the audit trail then see the client's address, not the proxy's.
    "TRUSTED_PROXIES": 0,
    "WORKERS": 3,
    "START_WORKERS": False,  # `storekit serve` turns this on
    # Request bodies above this are refused (413) before they are read; JSON bodies are
    # small, and forms carry a few fields. `storekit serve` gives waitress the same cap.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "MAX_FORM_MEMORY_SIZE": 64 * 1024,
    "MAX_FORM_PARTS": 100,
    "SESSION_HOURS": 12,  # a dashboard login lasts at most this long
}


def _secret_key(settings: Settings) -> str:
    return secret_file(settings.home_path / "webapp-secret", lambda: secrets.token_urlsafe(48))


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("STOREKIT_WEB")  # e.g. STOREKIT_WEB_MAX_STORES=20
    if test_config:
        app.config.update(test_config)
    settings = app.config.get("SETTINGS") or Settings.load()
    if not app.config.get("SECRET_KEY"):  # Flask's default is None: sessions need a real key
        app.config["SECRET_KEY"] = _secret_key(settings)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    sessions.init_app(app)
    app.url_map.converters.update(slug=SlugConverter, name=NameConverter, token=TokenNameConverter,
                                  planid=PlanIdConverter)

    kit = app.config.get("KIT") or Storekit(settings, actor=Actor(name="dashboard", source="web"))
    app.extensions["storekit"] = kit
    app.extensions["storekit.service"] = StoreService(kit)
    kit.catalog.migrate()
    metrics = Metrics(lambda: kit.catalog)
    kit.subscribers.append(metrics)  # operations this process runs (its worker pool's jobs)
    app.extensions["storekit.metrics"] = metrics

    app.wsgi_app = BoundedClientAddress(app.wsgi_app)  # inside ProxyFix: sees the forwarded address
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    limiter.init_app(app)

    @app.before_request
    def connect_db():
        try:
            kit.catalog.connect()
        except OperationalError as e:  # the reason goes to the log, never to the caller
            app.logger.warning("the catalog database is unavailable: %s", redact_text(str(e)))
            abort(503, description="the catalog database is unavailable; try again shortly")
        g.kit = kit

    @app.teardown_request
    def close_db(_exc):
        kit.catalog.close()

    from . import api, auth, errors, fleet_ui, health, tokens_api, ui

    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(tokens_api.bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(fleet_ui.bp)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return no_store(response)

    if app.config["START_WORKERS"]:
        from storekit.jobs import WorkerPool

        app.extensions["storekit.workers"] = WorkerPool(kit, size=int(app.config["WORKERS"])).start()
        from storekit.schedule import Scheduler

        app.extensions["storekit.schedule"] = Scheduler(kit).start()
    return app

