"""Liveness and readiness probes, and Prometheus metrics (``storekit.metrics``)."""

from flask import Blueprint, Response, current_app, g, jsonify

from storekit.metrics import CONTENT_TYPE
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


@bp.get("/metrics")
def metrics():
    """Prometheus text format: jobs by state, queue depth, stores by status (the shared
    catalog), and this process's operation durations, failures, repairs and drift. Only
    counts, never a store's name, so it needs no token (as /healthz)."""
    try:
        body = current_app.extensions["storekit.metrics"].render()
    except Exception as e:  # the catalog is away: say so to the scraper, details to the log
        current_app.logger.warning("metrics: %s", redact_text(str(e)))
        return jsonify(status="unavailable"), 503
    return Response(body, mimetype=None, content_type=CONTENT_TYPE)
