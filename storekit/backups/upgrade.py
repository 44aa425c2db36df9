"""Safe upgrades (docs/backups.md): applying a plan that changes a running store's images first
backs the store up, then checks its health after the apply (serving pods ready, the home page
answering); when the apply or the check fails, it applies the previous spec (the previous
images) and restores that backup, and reports both the failure and the rollback.

Called by ``Storekit.apply`` with the store's lock held, inside its ``apply`` audit entry
(whose details get ``backup`` and ``rolled_back``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from .. import ops
from ..errors import StorekitError, UpgradeRolledBack
from ..spec import NAMESPACE_PREFIX
from . import core
from .location import open_location

log = logging.getLogger("storekit.upgrade")


def image_upgrade(plan) -> bool:
    """True when the plan changes images the running store already has."""
    return plan.action == "update" and any(
        c.field.startswith("images.") and c.before is not None for c in plan.spec_changes)


def healthy(kit, slug: str, engine, url: str, *, timeout: float) -> str | None:
    """None once the serving pods are ready and the home page answers, else why not (by ``timeout``)."""
    namespace = f"{NAMESPACE_PREFIX}{slug}"
    deadline, why = time.monotonic() + timeout, "not checked"
    while True:
        try:
            state = ops.engine_health(kit._kube(), slug, namespace, engine)
            if not state.healthy:
                why = "its pods are not ready: " + ", ".join(
                    f"{p.name} {p.phase}" for p in state.pods if not p.ready and p.component in engine.health_components)
            elif engine.backup and engine.backup.check:
                pod, container = core.podexec.ready_pod(kit._kube(), namespace, engine.backup.switch)
                core.podexec.run(kit.settings, namespace, pod, container, engine.backup.check, url,
                                 what="the home page check", timeout=60)
                return None
            else:
                return None
        except StorekitError as e:
            why = e.message
        if time.monotonic() > deadline:
            return why
        time.sleep(3)


def safe_upgrade(kit, plan, emit, *, engine, before, details: dict):
    """Back up, apply, check; on failure apply ``before`` and restore the backup, then raise."""
    slug, location = plan.store, open_location(None, kit.settings)
    snap = kit.gateway.snapshot(slug)
    url = snap.outputs.get("url") or ""
    info = core.take(kit._kube(), kit.settings, location, slug=slug, namespace=f"{NAMESPACE_PREFIX}{slug}",
                     engine=engine, shape=engine.backup, images=dict(before.images), tier=before.tier, url=url)
    details["backup"] = info.id
    failure = None
    try:
        result = kit.runner.apply(plan, emit)
    except StorekitError as e:
        failure = f"the apply failed: {e.message}"
    else:
        why = healthy(kit, slug, engine, url, timeout=min(kit.settings.timeout, 300))
        if why is None:
            return result
        failure = f"the store is not healthy after it: {why}"
    log.warning("store %s: upgrade failed (%s); rolling back", slug, failure)
    details["rolled_back"] = True
    try:
        kit.runner.apply(kit.planner.plan(before, refresh=True, snap=kit._repaired(slug)), emit)
        secrets = kit.gateway.snapshot(slug).secrets or {}
        with tempfile.TemporaryDirectory(prefix="storekit-rollback-") as tmp:
            core.fetch(location, info, Path(tmp))
            core.load(kit._kube(), kit.settings, f"{NAMESPACE_PREFIX}{slug}", engine.backup, Path(tmp), info,
                      url=url, admin_user=before.admin_user, admin_email=before.admin_email,
                      admin_password=secrets.get("admin_password", ""), timeout=kit.settings.timeout)
    except StorekitError as e:
        raise UpgradeRolledBack(f"upgrade of store '{slug}' failed ({failure}), and so did its rollback: {e.message}",
                                hint=f"Restore backup {info.id} by hand: storekit restore {slug} --backup {info.id}") from e
    images = ", ".join(f"{c.field[7:]} {c.after} -> {c.before}" for c in plan.spec_changes
                       if c.field.startswith("images."))
    raise UpgradeRolledBack(f"upgrade of store '{slug}' failed ({failure}); rolled back: images put back "
                            f"({images}) and data restored from backup {info.id}",
                            hint="Check the new images (`storekit logs NAME`) before trying again.")
