"""Flask extensions, created once and bound to each app with ``init_app``."""

from flask import request
from flask_limiter import Limiter


def client_ip() -> str:
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, headers_enabled=True)
