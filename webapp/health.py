"""Liveness and readiness probes."""

from flask import Blueprint, current_app, g, jsonify

from storekit.redact import redact_text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    try:
        g.kit.catalog.ping()
    except Exception as e:  # any database failure means not ready; the reason goes to the log only
        current_app.logger.warning("readyz: the catalog database is unavailable: %s", redact_text(str(e)))
        return jsonify(status="unavailable", database="unavailable"), 503
    return jsonify(status="ok", database="ok")
