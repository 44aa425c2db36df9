"""Liveness and readiness probes."""

from flask import Blueprint, g, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    try:
        g.kit.catalog.ping()
    except Exception as e:  # any database failure means not ready
        return jsonify(status="unavailable", database=str(e)), 503
    return jsonify(status="ok", database="ok")
