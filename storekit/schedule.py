"""The worker's schedule: drift checks every ``STOREKIT_DRIFT_INTERVAL`` seconds, and the
reaper of expired stores.

One thread beside each ``WorkerPool`` (``storekit serve``, ``storekit worker``). Every few
seconds it looks at the catalog:

- **drift**: every ready store whose last check (``catalog.drift``) is older than the
  interval is checked (``storekit.driftwatch``). Several workers sharing a catalog share the
  work, because a store just checked by one is not due for the others.
- **expiry**: a store whose spec's ``expires_at`` has passed gets a timeline entry and an
  audit entry (``expire``) and a destroy job, run by the workers without the policy and
  approval checks a person's destroy gets (the spec's expiry was the decision). A store
  within ``STOREKIT_EXPIRY_GRACE`` seconds of its expiry is *expiring*: the dashboard shows a
  warning (``expiry_state``).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from . import driftwatch
from .errors import StorekitError
from .spec import parse_time

log = logging.getLogger(__name__)
REAPER = "storekit-reaper"


def expiry_state(spec: dict | None, grace_seconds: float, now: datetime | None = None) -> tuple[str, str | None]:
    """("none" | "ok" | "expiring" | "expired", expires_at) of a store's spec."""
    expires = parse_time((spec or {}).get("expires_at"))
    if expires is None:
        return "none", None
    left = (expires - (now or datetime.now(timezone.utc))).total_seconds()
    state = "expired" if left <= 0 else "expiring" if left <= grace_seconds else "ok"
    return state, expires.isoformat(timespec="seconds")


def reap(kit, service, *, now: datetime | None = None) -> list[str]:
    """Queue the destruction of every expired store (once: a store being destroyed is skipped)."""
    from .recorder import Actor

    reaped = []
    for store in kit.catalog.stores():
        state, expires = expiry_state(store.spec, 0, now)
        if state != "expired" or store.status in ("deleting", "deleted"):
            continue
        if any(j.kind == "destroy" for j in kit.catalog.jobs.for_store(store.slug)):
            continue
        kit.catalog.add_event(store.slug, "Expired", "info", message=f"expired at {expires}; destroying it")
        actor = Actor(name=REAPER, source="worker")
        with kit.audited("expire", store.slug, store.name, actor, {"expires_at": expires}):
            kit.catalog.set_status(store.slug, "deleting")
            service.submit("destroy", store.slug, actor, {"expired": True}, details={"expires_at": expires})
        reaped.append(store.slug)
    return reaped


class Scheduler:
    """The drift checks and the reaper, on one thread, every ``tick`` seconds."""

    def __init__(self, kit, *, tick: float = 5.0):
        from .service import StoreService

        self.kit, self.service, self.tick = kit, StoreService(kit), tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Scheduler":
        self._thread = threading.Thread(target=self._loop, name="storekit-schedule", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def once(self) -> dict:
        """One round: what was reaped and which stores' drift was checked."""
        reaped = reap(self.kit, self.service)
        interval = self.kit.settings.drift_interval
        checked = driftwatch.sweep(self.kit, older_than=interval) if interval else []
        return {"reaped": reaped, "checked": [r.store for r in checked]}

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                done = self.once()
                if done["reaped"] or done["checked"]:
                    log.info("schedule: reaped %s, checked drift of %s", done["reaped"], done["checked"])
            except StorekitError as e:
                log.warning("schedule: %s", e)
            except Exception:  # a bug must not stop the schedule
                log.exception("schedule: internal error")
