"""JSON errors with one stable shape for the API; library errors map to their status.

    {"error": "invalid_spec", "message": "...", "hint": "...", "fields": [{"field", "rule"}]}
"""

from __future__ import annotations

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from storekit.errors import StorekitError


def error_body(kind: str, message: str, status: int, **extra):
    return jsonify({"error": kind, "message": message, **extra}), status


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def init_app(app) -> None:
    @app.errorhandler(StorekitError)
    def storekit_error(e: StorekitError):
        if not wants_json():
            return render_template("error.html", status=e.http_status, message=str(e)), e.http_status
        return jsonify(e.to_dict()), e.http_status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        if not wants_json():
            return e
        kind = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large",
                415: "unsupported_media_type", 429: "rate_limited", 503: "unavailable"}.get(e.code, "error")
        return error_body(kind, e.description or e.name, e.code)

    @app.errorhandler(Exception)
    def unexpected(e: Exception):  # never leak a traceback; the log has it
        app.logger.exception("unhandled error")
        return error_body("internal", "an internal error occurred; see the server log", 500)
