"""The dashboard: server-rendered pages with plain HTML forms (they work without
JavaScript), over the library's service layer (the CLI's too). static/app.js only swaps
in server-rendered fragments (the live timeline) and refreshes logs; it renders nothing
itself. Every form is CSRF-protected; actions need the admin role. The Changes tab
applies exactly the plan it showed (by its id), or shows a fresh one when it went stale."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from storekit.engines import components, log_components, registry, tier_names
from storekit.errors import SpecError, StorekitError
from storekit.service import StalePreview
from storekit.views import plan_view

from .auth import actor, require
from .extensions import caller_key, limiter, plan_limit
from .guards import text_arg
from .service import fields, svc

bp = Blueprint("ui", __name__)
TABS = ("timeline", "changes", "health", "logs", "backups", "actions", "audit")


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


@bp.app_template_global("plan_view")
def _plan_view(plan):
    return plan_view(plan)


def _stores_page(errors: dict | None = None, form: dict | None = None, status: int = 200):
    return render_template("stores.html", stores=svc().stores(), queue=svc().queue(), tiers=tier_names(),
                           engines=registry(), errors=errors or {}, form=form or {}), status


@bp.get("/")
@require("viewer", ui=True)
def stores():
    return _stores_page()


@bp.post("/stores")
@require("admin", ui=True)
def create():
    form = {k: request.form.get(k, "").strip() for k in ("name", "admin_email", "engine", "tier")}
    try:
        store, _ = svc().create(fields({k: v for k, v in form.items() if v}, "store spec"), actor("web"),
                                max_stores=int(current_app.config["MAX_STORES"]))
    except SpecError as e:
        return _stores_page(dict(e.problems), form, 400)
    except StorekitError as e:
        flash(str(e), "error")
        return redirect(url_for("ui.stores"))
    flash(f"Store '{store.name}' is queued for creation.", "ok")
    return redirect(url_for("ui.store", slug=store.slug))


def _page(record, tab: str, status: int = 200, **data):
    return render_template("store.html", store=record, tab=tab, tabs=TABS, tiers=tier_names(), **data), status


@bp.get("/stores/<slug:slug>")
@require("viewer", ui=True)
def store(slug):
    record = svc().store(slug, deleted=True)  # a deleted store's page still shows its history
    tab = request.args.get("tab", "timeline")
    tab = tab if tab in TABS else "timeline"
    data: dict = {}
    try:
        if tab == "timeline":
            data["timeline"] = svc().timeline(slug)
            data["jobs"] = svc().jobs(slug)
        elif tab == "changes":  # a plan runs the engine: only on the form's POST (preview), never on a GET
            data["approvals"] = g.kit.catalog.approvals.pending(20, store=record.slug)
        elif tab == "health":
            data["health"] = g.kit.health(slug)
        elif tab == "logs":
            engine = registry().get(record.engine)
            data["components"] = list(engine.log_components) if engine else log_components()
            data["pod"] = request.args.get("pod") or (data["components"] or ["?"])[0]
            data["lines"] = list(g.kit.logs(slug, data["pod"], tail=200))
            data["pods"] = [p.name for p in g.kit.health(slug).pods]
        elif tab == "backups":  # reading every part back costs downloads: only when asked (?verify=1)
            data["verify"] = request.args.get("verify") == "1"
            data["backups"] = g.kit.backups(slug, verify=data["verify"])
        elif tab == "actions":
            engine = registry().get(record.engine)
            data["components"] = list(engine.components) if engine else components()
        elif tab == "audit":
            data["entries"] = svc().audit(store=slug)
    except StorekitError as e:
        data["error"] = str(e)
    return _page(record, tab, **data)


@bp.get("/stores/<slug:slug>/timeline")
@require("viewer", ui=True)
def timeline(slug):
    """The timeline as an HTML fragment: the page's script swaps it in while a job runs."""
    return render_template("_timeline.html", timeline=svc().timeline(slug), jobs=svc().jobs(slug))


@bp.post("/stores/<slug:slug>/preview")
@require("viewer", ui=True)
@limiter.limit(plan_limit, key_func=caller_key)
def preview(slug):
    """Plan a change (on the form's POST only: a plan runs the engine) and show it, saved
    under an id so that the Apply button applies exactly it."""
    record = svc().store(slug)
    data: dict = {}
    try:
        data["preview"] = svc().preview(slug, fields({"tier": request.form.get("tier", "")}, "store spec"))
    except StorekitError as e:
        data["error"] = str(e)
    return _page(record, "changes", **data)


def _act(slug: str, action, done, *, tab: str | None = None):
    """Run a form's action, flash ``done(result)`` (or the error's one line), and go back
    to the store's page."""
    try:
        flash(done(action()), "ok")
    except StorekitError as e:
        flash(str(e), "error")
    return redirect(url_for("ui.store", slug=slug, **({"tab": tab} if tab else {})))


@bp.post("/stores/<slug:slug>/apply")
@require("admin", ui=True)
def apply(slug):
    """Apply exactly the plan the Changes tab showed; a stale one shows a fresh preview (409)."""
    record = svc().store(slug)
    try:
        svc().apply_previewed(slug, request.form.get("plan_id", ""), actor("web"))
    except StalePreview as e:
        return _page(record, "changes", 409, preview=e.preview,
                     error="The store changed since that plan was made; here is a fresh plan to review.")
    except StorekitError as e:
        flash(str(e), "error")
        return redirect(url_for("ui.store", slug=slug, tab="changes"))
    flash("The change is queued: exactly the plan you reviewed.", "ok")
    return redirect(url_for("ui.store", slug=slug))


@bp.post("/stores/<slug:slug>/approve")
@require("admin", ui=True)
def approve(slug):
    """Approve a submitted plan of this store (two-person rule): not the submitter's own."""
    plan_id = request.form.get("plan_id", "")
    return _act(slug, lambda: svc().approve(plan_id, actor("web")),
                lambda r: f"Approved plan {r.id} (submitted by {r.submitted_by}); it can be applied now.",
                tab="changes")


@bp.post("/stores/<slug:slug>/restart")
@require("admin", ui=True)
def restart(slug):
    component = request.form.get("component", "all")
    return _act(slug, lambda: svc().restart(slug, component, actor("web")),
                lambda job: f"The restart of {component} is queued (job {job.id}).")


@bp.post("/stores/<slug:slug>/backup")
@require("admin", ui=True)
def backup(slug):
    return _act(slug, lambda: svc().backup(slug, actor("web")),
                lambda job: f"The backup is queued (job {job.id}); it is listed here when done.", tab="backups")


@bp.post("/stores/<slug:slug>/restore")
@require("admin", ui=True)
def restore(slug):
    record = svc().store(slug)
    if not _confirmed(record):
        return redirect(url_for("ui.store", slug=slug, tab="backups"))
    backup_id = request.form.get("backup", "")
    return _act(slug, lambda: svc().restore(slug, backup_id, actor("web")),
                lambda job: f"The restore of backup {backup_id} is queued (job {job.id}); the store is in "
                            "maintenance while it loads.", tab="backups")


@bp.post("/stores/<slug:slug>/clone")
@require("admin", ui=True)
def clone(slug):
    name, backup_id = request.form.get("name", ""), request.form.get("backup") or None
    return _act(slug, lambda: svc().clone(slug, name, actor("web"), backup=backup_id),
                lambda job: f"The clone '{name}' is queued (job {job.id}); it has its own page.", tab="backups")


def _confirmed(record) -> bool:
    if request.form.get("confirm") == record.slug:
        return True
    flash(f"Type the store's slug ({record.slug}) to confirm.", "error")
    return False


@bp.post("/stores/<slug:slug>/reset-password")
@require("admin", ui=True)
def reset_password(slug):
    record = svc().store(slug)
    if not _confirmed(record):
        return redirect(url_for("ui.store", slug=slug, tab="actions"))
    return _act(slug, lambda: svc().reset_password(slug, actor("web")),
                lambda job: f"The password reset is queued (job {job.id}); reveal the new password "
                            "on the Actions tab when it is done.")


@bp.post("/stores/<slug:slug>/reveal-password")
@require("admin", ui=True)
def reveal_password(slug):
    record = svc().store(slug)
    if not _confirmed(record):
        return redirect(url_for("ui.store", slug=slug, tab="actions"))
    try:
        password = svc().reveal_password(slug, actor("web"))
    except StorekitError as e:
        flash(str(e), "error")
        return redirect(url_for("ui.store", slug=slug, tab="actions"))
    # Rendered once, never stored in the session or flashed.
    return _page(record, "actions", components=components(), new_password=password)


@bp.post("/stores/<slug:slug>/delete")
@require("admin", ui=True)
def delete(slug):
    return _act(slug, lambda: svc().destroy(slug, actor("web")),
                lambda _job: "The store is queued for deletion.")


@bp.get("/audit")
@require("viewer", ui=True)
def audit():
    filters = {k: request.args.get(k, "") for k in ("store", "action", "since")}
    try:
        entries = svc().audit(store=text_arg("store", subject="audit filter"),
                              action=text_arg("action", subject="audit filter"),
                              since=text_arg("since", subject="audit filter"))
        error = None
    except SpecError as e:
        entries, error = [], str(e)
    return render_template("audit.html", entries=entries, filters=filters, error=error), 400 if error else 200
