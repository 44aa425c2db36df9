"""The web edge's link to the library's service layer (``storekit.service``).

Everything the API and the dashboard do goes through one ``StoreService`` per app, the
same one the CLI uses; this module adds only what belongs to the web edge: limits on the
size and type of each field a request may send.
"""

from __future__ import annotations

from flask import current_app

from storekit.service import StoreService

from .guards import string_fields

# What a store's fields may be at the edge: strings, short enough to quote in an error.
FIELD_LIMITS = {"name": 200, "admin_email": 254, "email": 254, "engine": 40, "tier": 40, "plan_id": 64, "backup": 40,
                "component": 40}


def svc() -> StoreService:
    return current_app.extensions["storekit.service"]


def fields(data: dict, subject: str = "request") -> dict:
    """``data`` after the edge's checks: every known field a string of bounded length."""
    string_fields(data, FIELD_LIMITS, subject=subject)
    return data
