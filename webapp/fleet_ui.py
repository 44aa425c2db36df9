"""The dashboard's Fleet page: paste a fleet file, read its plan grouped by identical change.

A plan runs the engine for every store, so it runs on the form's POST only, rate limited
like a store's preview; the groups come from the library (``storekit.grouping``) and the
lines from its views (``storekit.views.group_lines``), as ``storekit plan -f`` prints them.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from storekit.errors import StorekitError
from storekit.views import group_lines

from .auth import require
from .extensions import caller_key, limiter, plan_limit
from .service import svc

bp = Blueprint("fleet", __name__)
EXAMPLE = """defaults:
  tier: small
stores:
  - name: My Test Shop
    admin_email: owner@example.com
"""


@bp.app_template_global("group_lines")
def _group_lines(group, expand=True):
    return group_lines(group, expand=expand)


@bp.get("/fleet")
@require("viewer", ui=True)
def fleet():
    return render_template("fleet.html", text=EXAMPLE, fleet=None, error=None)


@bp.post("/fleet/plan")
@require("viewer", ui=True)
@limiter.limit(plan_limit, key_func=caller_key)
def plan():
    text = request.form.get("fleet", "")[:60000]
    try:
        return render_template("fleet.html", text=text, fleet=svc().plan_fleet(text), error=None)
    except StorekitError as e:
        return render_template("fleet.html", text=text, fleet=None, error=str(e)), e.http_status
