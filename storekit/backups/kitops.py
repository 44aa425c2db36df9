"""Backup, backups and restore as ``Storekit`` methods: the store's lock, the audit trail
(``backup``, ``restore``) and timeline lines around ``storekit.backups.core``."""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

from ..engines import registry
from ..errors import BackupError, SpecError, StoreNotFound, StorekitError
from ..events import OperationFinished, OperationStarted
from ..spec import NAMESPACE_PREFIX, slugify
from ..toolchain import LazyModule

# Loaded when a backup operation runs: a command that takes no backup should not pay for them.
core = LazyModule("storekit.backups.core")
locations = LazyModule("storekit.backups.location")


class BackupOperations:
    """Mixed into ``Storekit`` (which provides _snapshot, _kube, _store_lock, audited, _emitter)."""

    def _backup_target(self, name: str):
        snap = self._snapshot(name)
        spec = snap.spec
        if spec is None:
            raise StoreNotFound(name)
        engine = registry().get(snap.outputs.get("engine") or spec.engine)
        if engine is None or engine.backup is None:
            raise BackupError(f"store '{snap.slug}' runs engine '{spec.engine}', whose stores cannot be backed up yet")
        return snap, spec, engine

    def _safe_upgrade(self, plan):
        """The safe upgrade of ``plan`` (a callable), or None when the plan is not an image upgrade
        of a store whose engine can be backed up."""
        from . import upgrade

        if not upgrade.image_upgrade(plan):
            return None
        snap = self.gateway.snapshot(plan.store)
        before = snap.spec
        engine = registry().get(snap.outputs.get("engine") or (before.engine if before else ""))
        if before is None or engine is None or engine.backup is None:
            return None
        before = self.resolve(before)[0]
        return lambda plan, emit, details: upgrade.safe_upgrade(self, plan, emit, engine=engine, before=before,
                                                                details=details)

    def _timed(self, slug: str, operation: str, on_event, work):
        emit = self._emitter(on_event)
        emit(OperationStarted(store=slug, operation=operation))
        started = time.monotonic()
        try:
            result, message = work()
        except StorekitError as e:
            emit(OperationFinished(store=slug, operation=operation, ok=False, message=e.message,
                                   seconds=round(time.monotonic() - started, 3)))
            raise
        emit(OperationFinished(store=slug, operation=operation, message=message,
                               seconds=round(time.monotonic() - started, 3)))
        return result

    def backup(self, name: str, *, to: str | None = None, actor=None, on_event=None) -> core.BackupInfo:
        """Back up a store's database and uploads to ``to`` (default: the backup_location setting)."""
        slug = slugify(name) or name
        location = locations.open_location(to, self.settings)
        with self.audited("backup", slug, name, actor, {"location": location.url}) as details:
            snap, spec, engine = self._backup_target(name)
            with self._store_lock(slug):
                def work():
                    info = core.take(self._kube(), self.settings, location, slug=slug,
                                     namespace=f"{NAMESPACE_PREFIX}{slug}", engine=engine, shape=engine.backup,
                                     images=dict(spec.images), tier=spec.tier, url=snap.outputs.get("url"))
                    return info, f"backup {info.id}: {info.size} bytes in {location.url}"
                info = self._timed(slug, "backup", on_event, work)
            details.update(backup=info.id, size=info.size, verified=info.verified)
            return info

    def backups(self, name: str | None = None, *, location: str | None = None,
                verify: bool = True) -> list[core.BackupInfo]:
        """The backups in a location (of one store, or every store), newest first; with
        ``verify`` each is read back and its checksums compared."""
        slug = (slugify(name) or name) if name else None
        return core.listing(locations.open_location(location, self.settings), slug, check=verify)

    def restore(self, name: str, backup_id: str, *, location: str | None = None, source: str | None = None,
                actor=None, on_event=None) -> core.RestoreResult:
        """Restore backup ``backup_id`` (of this store, or of store ``source``) into the store:
        check it, stop the writers, load, converge the store's URL and password, start, check health."""
        slug = slugify(name) or name
        loc = locations.open_location(location, self.settings)
        from_slug = (slugify(source) or source) if source else slug
        with self.audited("restore", slug, name, actor, {"backup": backup_id, "location": loc.url,
                                                         **({"source": from_slug} if source else {})}):
            snap, spec, engine = self._backup_target(name)
            with self._store_lock(slug), tempfile.TemporaryDirectory(prefix="storekit-restore-") as tmp:
                folder = Path(tmp)
                info = core.read_manifest(loc, from_slug, backup_id, folder)
                if info.engine != engine.name:
                    raise BackupError(f"backup '{backup_id}' is of a {info.engine} store; '{slug}' runs {engine.name}")
                core.fetch(loc, info, folder)
                secrets = snap.secrets or {}

                def work():
                    started = time.monotonic()
                    downtime, healthy = core.load(
                        self._kube(), self.settings, f"{NAMESPACE_PREFIX}{slug}", engine.backup, folder, info,
                        url=snap.outputs.get("url") or "", admin_user=spec.admin_user, admin_email=spec.admin_email,
                        admin_password=secrets.get("admin_password", ""),
                        rewrite_from=info.url if info.store != slug else None, timeout=self.settings.timeout)
                    result = core.RestoreResult(store=slug, backup_id=info.id, location=loc.url,
                                                seconds=round(time.monotonic() - started, 3),
                                                downtime_seconds=downtime, healthy=healthy)
                    if not healthy:
                        raise BackupError(f"backup '{info.id}' was loaded into '{slug}' but the store is not healthy "
                                          "after it (its home page does not answer 200)",
                                          hint="See `storekit health NAME` and `storekit logs NAME`.")
                    return result, f"restored backup {info.id} ({downtime:.1f} s of downtime)"
                return self._timed(slug, "restore", on_event, work)

    def _whole_backup(self, slug: str, backup_id: str, location: str | None, engine) -> None:
        """BackupNotFound, BackupCorrupt or BackupError unless backup ``backup_id`` of store
        ``slug`` is there, reads back whole and is of ``engine``'s stores."""
        loc = locations.open_location(location, self.settings)
        with tempfile.TemporaryDirectory(prefix="storekit-clone-") as tmp:
            info = core.read_manifest(loc, slug, backup_id, Path(tmp))
            if info.engine != engine.name:
                raise BackupError(f"backup '{backup_id}' is of a {info.engine} store; '{slug}' runs {engine.name}")
            core.fetch(loc, info, Path(tmp))

    def clone(self, source: str, name: str, *, from_backup: str | None = None, location: str | None = None,
              actor=None, on_event=None) -> core.CloneResult:
        """A new store ``name`` with the engine, tier and images of ``source`` but its own
        secrets and URL, loaded from backup ``from_backup`` of ``source`` (default: a backup
        taken now), with the source's URL rewritten to its own in stored content (engines that
        store it)."""
        slug = slugify(name)
        if not slug:
            raise SpecError([("name", f"must give a store name with letters or digits (got {name!r})")],
                            subject="clone request")
        with self.audited("clone", slug, name, actor, {"source": slugify(source) or source,
                                                      "backup": from_backup}) as details:
            started = time.monotonic()
            # Any engine that can be backed up can be cloned: its restore keeps what belongs to the
            # store (BackupShape: converge, or the load itself) and rewrites stored URLs if it has any.
            _, spec, engine = self._backup_target(source)
            if self.gateway.select(slug) is not None:
                raise SpecError([("name", f"store '{slug}' exists already: a clone makes a new store")],
                                subject="clone request")
            if from_backup:  # a named backup that is missing, corrupt or of another engine: no store is made
                self._whole_backup(slugify(source) or source, from_backup, location, engine)
            backup_id = from_backup or self.backup(source, to=location, actor=actor, on_event=on_event).id
            details["backup"] = backup_id
            new = replace(spec, name=name, expires_at=None)  # a preview's expiry is not the clone's
            self.apply(new, actor=actor, on_event=on_event)
            restored = self.restore(name, backup_id, location=location, source=source, actor=actor,
                                    on_event=on_event)
            url = self.outputs(name).url
            return core.CloneResult(source=slugify(source) or source, store=slug, backup_id=backup_id, url=url,
                                    seconds=round(time.monotonic() - started, 3), restore=restored)
