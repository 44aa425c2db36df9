"""The dashboard: server-rendered pages with plain HTML forms (they work without
JavaScript); static/app.js adds live refresh of the timeline and logs and the theme
toggle. Every form is CSRF-protected; actions need the admin role."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from storekit.catalog import parse_since
from storekit.errors import SpecError, StorekitError
from storekit.engines import tier_names

from . import service
from .auth import actor, require
from .extensions import caller_key, limiter, plan_limit
from .guards import text_arg

bp = Blueprint("ui", __name__)
TABS = ("timeline", "changes", "health", "logs", "actions", "audit")


@bp.app_template_filter("when")
def when(value: datetime | str | None) -> str:
    """"Sat, Feb 7, 7:36 PM (2h ago)"."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    seconds = int((datetime.now(timezone.utc) - value).total_seconds())
    ago = "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            ago = f"{seconds // size}{unit} ago"
            break
    hour = value.strftime("%I").lstrip("0") or "12"
    return f"{value.strftime('%a, %b')} {value.day}, {hour}:{value.strftime('%M %p')} UTC ({ago})"


@bp.get("/")
@require("viewer", ui=True)
def stores():
    return render_template("stores.html", stores=g.kit.catalog.stores(), queue=service.queue().counts(),
                           tiers=tier_names(), errors={}, form={})


@bp.post("/stores")
@require("admin", ui=True)
def create():
    form = {k: request.form.get(k, "").strip() for k in ("name", "admin_email", "engine", "tier")}
    try:
        store, _ = service.create_store({k: v for k, v in form.items() if v}, actor("web"))
    except SpecError as e:
        return render_template("stores.html", stores=g.kit.catalog.stores(), queue=service.queue().counts(),
                               tiers=tier_names(), errors=dict(e.problems), form=form), 400
    except StorekitError as e:
        flash(str(e), "error")
        return redirect(url_for("ui.stores"))
    flash(f"Store '{store.name}' is queued for creation.", "ok")
    return redirect(url_for("ui.store", slug=store.slug))


@bp.get("/stores/<slug:slug>")
@require("viewer", ui=True)
def store(slug):
    record = g.kit.catalog.store(slug)  # a deleted store's page still shows its history
    if record is None:
        service.store_or_404(slug)
    tab = request.args.get("tab", "timeline")
    tab = tab if tab in TABS else "timeline"
    data: dict = {}
    try:
        if tab == "timeline":
            data["events"] = g.kit.catalog.events(slug)
            data["jobs"] = service.queue().for_store(slug)
        elif tab == "changes":
            pass  # a plan runs the engine: only on the form's POST (preview), never on a GET
        elif tab == "health":
            data["health"] = g.kit.health(slug)
        elif tab == "logs":
            data["pod"] = request.args.get("pod", "wordpress")
            data["lines"] = list(g.kit.logs(slug, data["pod"], tail=200))
            data["pods"] = [p.name for p in g.kit.health(slug).pods]
        elif tab == "audit":
            data["entries"] = g.kit.catalog.audit_entries(store=slug, limit=100)
    except StorekitError as e:
        data["error"] = str(e)
    return render_template("store.html", store=record, tab=tab, tabs=TABS, tiers=tier_names(), **data)


@bp.post("/stores/<slug:slug>/preview")
@require("viewer", ui=True)
@limiter.limit(plan_limit, key_func=caller_key)
def preview(slug):
    record = service.store_or_404(slug)
    data: dict = {}
    try:
        data["plan"] = service.plan_change(slug, {"tier": request.form.get("tier", "")})
    except StorekitError as e:
        data["error"] = str(e)
    return render_template("store.html", store=record, tab="changes", tabs=TABS, tiers=TIER_ORDER, **data)


def _act(slug: str, action, done, *, tab: str | None = None):
    """Run a form's action, flash ``done(result)`` (or the error's one line), and go back
    to the store's page."""
    try:
        flash(done(action()), "ok")
    except StorekitError as e:
        flash(str(e), "error")
    return redirect(url_for("ui.store", slug=slug, **({"tab": tab} if tab else {})))


@bp.post("/stores/<slug:slug>/tier")
@require("admin", ui=True)
def change(slug):
    return _act(slug, lambda: service.change_store(slug, {"tier": request.form.get("tier")}, actor("web")),
                lambda _job: "The tier change is queued.")


@bp.post("/stores/<slug:slug>/restart")
@require("admin", ui=True)
def restart(slug):
    service.store_or_404(slug)
    return _act(slug, lambda: g.kit.restart(slug, request.form.get("component", "all"), actor=actor("web")),
                lambda result: result.text, tab="actions")


@bp.post("/stores/<slug:slug>/reset-password")
@require("admin", ui=True)
def reset_password(slug):
    record = service.store_or_404(slug)
    if request.form.get("confirm") != record.slug:
        flash(f"Type the store's slug ({record.slug}) to confirm the password reset.", "error")
        return redirect(url_for("ui.store", slug=slug, tab="actions"))
    try:
        password = g.kit.reset_admin_password(slug, actor=actor("web"))
    except StorekitError as e:
        flash(str(e), "error")
        return redirect(url_for("ui.store", slug=slug, tab="actions"))
    # Rendered once, never stored in the session or flashed.
    return render_template("store.html", store=record, tab="actions", tabs=TABS, tiers=tier_names(),
                           new_password=password)


@bp.post("/stores/<slug:slug>/delete")
@require("admin", ui=True)
def delete(slug):
    return _act(slug, lambda: service.delete_store(slug, actor("web")),
                lambda _job: "The store is queued for deletion.")


@bp.get("/audit")
@require("viewer", ui=True)
def audit():
    filters = {k: request.args.get(k, "") for k in ("store", "action", "since")}
    try:
        entries = g.kit.catalog.audit_entries(store=text_arg("store", subject="audit filter"),
                                              action=text_arg("action", subject="audit filter"),
                                              since=parse_since(text_arg("since", subject="audit filter")),
                                              limit=300)
        error = None
    except SpecError as e:
        entries, error = [], str(e)
    return render_template("audit.html", entries=entries, filters=filters, error=error), 400 if error else 200
