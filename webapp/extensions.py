"""Flask extensions, created once and bound to each app with ``init_app``."""

from flask import current_app, g, request
from flask_limiter import Limiter


def client_ip() -> str:
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, headers_enabled=True)


def caller_key() -> str:
    """Limits that follow the caller's token wherever it connects from (plans)."""
    identity = getattr(g, "identity", None)
    return f"token:{identity[0]}" if identity else f"ip:{client_ip()}"


def plan_limit() -> str:
    return current_app.config["PLAN_LIMIT"]


def action_limit() -> str:
    return current_app.config["ACTION_LIMIT"]
