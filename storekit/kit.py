"""``Storekit``: the library's front door. Plan, apply, destroy, drift, outputs, day-2, fleets.

The three states: a ``StoreSpec`` is desired; the store's Pulumi stack is recorded; the
objects in the cluster are live. ``plan`` previews desired against recorded (refreshed
against live by default, like Terraform), ``apply`` runs exactly a plan (or plans and
applies a spec), ``drift`` shows what changed live behind storekit's back, ``destroy``
removes every object and the stack.

``Storekit`` composes small parts: the ``StackGateway`` (every engine call, one error
classifier, a snapshot of a stack per operation), the ``Planner``, the ``Runner`` (apply,
destroy) and day-2 operations on live objects (``ops``). It writes the catalog only
through events: ``CatalogRecorder`` subscribes to everything an operation emits.

Generated secrets are made once per store by its engine and kept encrypted in the stack's
config and outputs; they never appear in plans, events, results or errors.
"""

from __future__ import annotations

import logging
import secrets as _secrets
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from .engines import registry
from .errors import SpecError, StalePlan, StoreBusy, StoreNotFound, StorekitError
from .events import (Audited, DriftChecked, Event, EventCallback, OperationFinished, OperationStarted, Recovered,
                     now_iso)
from .backups.kitops import BackupOperations
from .fastpath import FastPath
from .fleetops import FleetOperations
from .plan import Plan
from .redact import redact_url
from .recorder import Actor, CatalogRecorder, os_user
from .results import ApplyResult, DriftReport, StoreOutputs, StoreSummary
from .settings import Settings
from .spec import NAMESPACE_PREFIX, StoreSpec, slugify
from .toolchain import LazyModule, LazyPart

ops = LazyModule("storekit.ops")  # loaded when used: the cluster client (lightkube) is not cheap
approvals, _planning = LazyModule("storekit.approvals"), LazyModule("storekit.planning")
_gateway, _applying, _governance = (LazyModule(f"storekit.{m}") for m in ("gateway", "applying", "governance"))
if TYPE_CHECKING:
    from .applying import Runner
    from .catalog import Catalog
    from .engine import Engine
    from .gateway import Snapshot, StackGateway
    from .governance import Governance
    from .planning import Planner

log = logging.getLogger(__name__)

SPEC_REPLANS = 3

class Storekit(FleetOperations, BackupOperations):
    """Provision and change stores. Thread-safe: one instance can serve a whole process
    (its actor is fixed; ``as_actor`` gives a view acting for someone else).

    Every mutating call (apply, destroy, restart, password reset, unlock) emits one
    ``Audited`` event, which the catalog records, as ``actor`` (default: the OS user,
    source ``library``) unless the call names another.
    """

    # The engine-facing parts, made on first use (and shared with ``as_actor`` views): an
    # engine-free no-op plan (``fastpath``) needs none of them, and importing them is most of
    # such a plan's start-up.
    gateway: StackGateway = LazyPart(lambda kit: _gateway.StackGateway(kit.settings))
    planner: Planner = LazyPart(lambda kit: _planning.Planner(kit.settings, kit.gateway, fast=kit.fast))
    runner: Runner = LazyPart(lambda kit: _applying.Runner(kit.planner, kit.gateway))
    governance: Governance = LazyPart(lambda kit: _governance.Governance(kit.settings, lambda: kit.catalog, kit._kube))

    def __init__(self, settings: Settings | None = None, *, actor: Actor | None = None,
                 catalog: Catalog | None = None, **overrides):
        self.settings = settings.replace(**overrides) if settings and overrides else (
            settings or Settings.load(overrides))
        self.fast = FastPath(self.settings)
        self._parts: dict[str, object] = {}  # the LazyPart attributes above, once made
        self._parts_guard = threading.RLock()
        self._actor = actor or Actor(name=os_user())
        self._catalog = catalog
        self._catalog_guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.subscribers: list[EventCallback] = [CatalogRecorder(lambda: self.catalog)]

    @property
    def actor(self) -> Actor:
        return self._actor

    def as_actor(self, actor: Actor) -> "Storekit":
        """The same kit (catalog, locks, subscribers) acting for ``actor``."""
        view = object.__new__(Storekit)
        view.__dict__.update(self.__dict__)
        view._actor = actor
        return view

    @property
    def catalog(self) -> Catalog:
        with self._catalog_guard:
            if self._catalog is None:
                from .catalog import Catalog

                self._catalog = Catalog.open(self.settings.db_url)
            return self._catalog

    # ---- events ---------------------------------------------------------------------

    def _emitter(self, on_event: EventCallback | None) -> EventCallback:
        def emit(event: Event) -> None:
            for subscriber in self.subscribers:
                subscriber(event)
            if on_event is not None:
                on_event(event)
        return emit

    @contextmanager
    def audited(self, action: str, slug: str, name: str | None, actor: Actor | None, details: dict):
        """Emit one ``Audited`` event for a mutating call, whatever its outcome."""
        actor = actor or self.actor
        emit = self._emitter(None)
        try:
            yield details
        except StorekitError as e:
            emit(Audited(store=slug, action=action, name=name, actor=actor.name, source=actor.source, ip=actor.ip,
                         outcome="failed", details={**details, "error": e.kind, "message": e.message}))
            raise
        emit(Audited(store=slug, action=action, name=name, actor=actor.name, source=actor.source, ip=actor.ip,
                     details=details))

    @contextmanager
    def _store_lock(self, slug: str):
        with self._locks_guard:
            lock = self._locks.setdefault(slug, threading.Lock())
        if not lock.acquire(blocking=False):
            raise StoreBusy(slug, holder="another operation in this process")
        try:
            yield
        finally:
            lock.release()

    def _snapshot(self, name: str, *, repair: bool = False) -> Snapshot:
        """The existing store's snapshot (StoreNotFound otherwise); with ``repair``, what an
        interrupted run left behind is repaired first (``storekit.recovery``)."""
        snap = self._repaired(slugify(name) or name) if repair else self.gateway.snapshot(slugify(name) or name)
        if not snap.exists:
            raise StoreNotFound(name)
        return snap

    def _repaired(self, slug: str) -> Snapshot:
        """A snapshot taken after repairing a crashed run's lock and pending operations; the
        repair, if any, is an event (the timeline says it) and a log line."""
        snap = self.gateway.snapshot(slug, repair=True)
        fixed = snap.repair
        if fixed is not None and fixed.did_anything:
            log.warning("store %s: %s", slug, fixed.text)
            self._emitter(None)(Recovered(store=slug, message=fixed.text, lock_cleared=fixed.lock_cleared,
                                          adopted=fixed.adopted, dropped=fixed.dropped))
        return snap

    # ---- plan ----------------------------------------------------------------------

    def resolve(self, spec: StoreSpec) -> tuple[StoreSpec, Engine]:
        return _planning.resolve(self.settings, spec)

    def spec_of(self, name: str) -> StoreSpec:
        """The spec a store was last applied with (its recorded state, or its baseline's when
        the live objects prove that current: ``storekit.fastpath``)."""
        if recorded := self.fast.recorded_spec(slugify(name) or name):
            return StoreSpec.from_dict(recorded)
        spec = self._snapshot(name).spec
        if spec is None:
            raise StoreNotFound(name)
        return spec

    def plan(self, spec: StoreSpec, *, refresh: bool | None = None) -> Plan:
        """Preview what applying ``spec`` would change, with its policy results and capacity
        preview (``storekit.governance``). Nothing is changed, except that what a crashed run
        left in the store's state is repaired first (``recovery``). Without the engine when
        the store provably matches ``spec`` (``fastpath``: a no-op, nothing to govern), unless
        ``refresh=True``; ``refresh=False``: against the recorded state only."""
        resolved, engine = self.resolve(spec)  # bad input fails before any engine call
        if refresh is not True:
            quick = self.fast.plan(resolved, engine)
            if quick is not None:
                return quick
        plan = self.planner.plan(spec, refresh=refresh is not False, snap=self._repaired(resolved.slug))
        return self.governance.review([plan])[0][0]

    def plan_destroy(self, name: str) -> Plan:
        return self.governance.review([self.planner.plan_destroy(self._snapshot(name, repair=True))])[0][0]

    # ---- apply, destroy --------------------------------------------------------------

    def apply(self, target: Plan | StoreSpec, *, on_event: EventCallback | None = None,
              actor: Actor | None = None, safe: bool = True) -> ApplyResult:
        """Apply a plan (refusing a stale one) or plan-and-apply a spec.

        With ``safe``, a plan that changes a running store's images is a safe upgrade
        (``storekit.backups.upgrade``): backed up first, its health checked after, rolled back
        (previous images, the backup restored) when either fails.

        A spec planned here whose store another process changed between the plan and the
        apply is planned again (up to ``SPEC_REPLANS`` times): the caller asked for a
        desired state, not for one plan of it.
        """
        slug = target.store if isinstance(target, Plan) else target.slug
        action = target.action if isinstance(target, Plan) else "apply"
        with self.audited("destroy" if action == "destroy" else "apply", slug, target.name, actor, {}) as details:
            for attempt in range(1, SPEC_REPLANS + 1):
                plan = target if isinstance(target, Plan) else self.plan(target)
                details.update(action=plan.action, summary=plan.summary.text,
                               tier=plan.spec.tier if plan.spec else None)
                self.governance.check(plan)  # from the plan's content: recorded results are not trusted
                approvals.require(self, plan, details)  # the two-person rule, when it is on
                made_against, here = redact_url(plan.state_url), redact_url(self.settings.state_url)
                if made_against != here:  # plans carry the URL without its password
                    raise StalePlan(plan.store) from SpecError(
                        [("state_url", f"plan was made against {made_against}, not {here}")])
                try:
                    with self._store_lock(plan.store):
                        if plan.action == "destroy":
                            return self.runner.destroy(plan, self._emitter(on_event))
                        if safe and self.settings.safe_upgrades and (upgrade := self._safe_upgrade(plan)):
                            return upgrade(plan, self._emitter(on_event), details)
                        return self.runner.apply(plan, self._emitter(on_event))
                except StalePlan:
                    if isinstance(target, Plan) or attempt == SPEC_REPLANS:
                        raise
                    log.info("store %s changed while it was planned: planning again", plan.store)
            raise AssertionError("unreachable")

    def destroy(self, name: str, *, on_event: EventCallback | None = None,
                actor: Actor | None = None, governed: bool = True) -> ApplyResult:
        """Remove every object of the store and its stack. Policies and the two-person rule
        apply as to any plan unless ``governed`` is False (the reaper of an expired store:
        the ``expires_at`` of its spec was the decision)."""
        with self.audited("destroy", slugify(name) or name, name, actor, {}) as details:
            snap = self._snapshot(name, repair=True)
            plan = self.planner.plan_destroy(snap)
            details.update(action="destroy", summary=plan.summary.text)
            if governed:
                self.governance.check(plan)
                approvals.require(self, plan, details)
            with self._store_lock(plan.store):
                return self.runner.destroy(plan, self._emitter(on_event), snap=snap)

    # ---- reading -------------------------------------------------------------------

    def outputs(self, name: str) -> StoreOutputs:
        """Recorded outputs, with what the setup said ("WooCommerce not installed: ...") read live."""
        out = self.runner.outputs(self._snapshot(name))
        return ops.with_notices(out, registry().get(out.engine), self._kube)

    def reveal_admin_password(self, name: str) -> str:
        """The store's WordPress admin password: an explicit, separate call."""
        secrets = self._snapshot(name).secrets or {}
        if "admin_password" not in secrets:
            raise StoreNotFound(name)
        return secrets["admin_password"]

    def reveal_outputs(self, name: str) -> dict[str, str]:
        """The store's secret outputs: the admin password and the engine's own (Medusa's
        publishable key), by name. An explicit, separate call, like ``reveal_admin_password``."""
        snap = self._snapshot(name)
        if "admin_password" not in (snap.secrets or {}):
            raise StoreNotFound(name)
        engine = registry().get(snap.outputs.get("engine"))
        extra = {key: snap.outputs[key] for key in (engine.secret_outputs if engine else ())
                 if isinstance(snap.outputs.get(key), str)}
        return {"admin_password": snap.secrets["admin_password"], **extra}

    def manifests(self, name: str, *, reveal: bool = False) -> list[dict]:
        """The store's Kubernetes objects as recorded at its last apply, in dependency order;
        secret values redacted unless ``reveal`` (see ``storekit.manifests``)."""
        from .manifests import objects_from_state

        return objects_from_state(self._snapshot(name).deployment, reveal=reveal)

    def drift(self, name: str, *, refresh: bool | None = None) -> DriftReport:
        """What changed in the cluster behind storekit's back (nothing is changed); without the
        engine when the live objects are provably the last apply's, unless ``refresh=True``."""
        if refresh is not True and self.fast.recorded_spec(slug := slugify(name) or name):
            self._emitter(None)(DriftChecked(store=slug, changes=0))
            return DriftReport(store=slug, changes=())
        snap = self._snapshot(name)
        if snap.spec is None:
            raise StoreNotFound(name)
        plan = self.planner.plan(snap.spec, refresh=True, snap=snap)
        self._emitter(None)(DriftChecked(store=snap.slug, changes=len(plan.drift)))
        return DriftReport(store=snap.slug, changes=plan.drift)

    def list(self) -> list[StoreSummary]:
        """Stores the state backend knows, with their last update."""
        return [StoreSummary(slug=s.name, last_update=s.last_update, resource_count=s.resource_count,
                             update_in_progress=s.update_in_progress)
                for s in self.gateway.list() if s.resource_count > 0 or s.update_in_progress]

    def unlock(self, name: str, *, actor: Actor | None = None) -> None:
        """Clear a stuck lock left by a crashed process (``pulumi cancel``)."""
        with self.audited("unlock", slugify(name) or name, name, actor, {}):
            stack = self.gateway.select(slugify(name) or name)  # only select: the stack is locked
            if stack is None:
                raise StoreNotFound(name)
            self.gateway.cancel(stack)

    # ---- day-2 operations ------------------------------------------------------

    def _kube(self):
        from .toolchain import cluster_api

        return cluster_api(self.settings)[1]

    def _live(self, name: str) -> tuple[str, str, Engine | None]:
        """(slug, namespace, engine) of an existing store."""
        slug = slugify(name) or name
        stack = self.gateway.select(slug)
        if stack is None:
            raise StoreNotFound(name)
        engine = registry().get(self.gateway.outputs(stack).get("engine"))
        return slug, f"{NAMESPACE_PREFIX}{slug}", engine

    def health(self, name: str) -> ops.StoreHealth:
        """Pods, volumes and quota usage of a store, read live."""
        slug, namespace, engine = self._live(name)
        return ops.engine_health(self._kube(), slug, namespace, engine)

    def logs(self, name: str, component: str | None = None, *, tail: int | None = 200,
             since: int | None = None, follow: bool = False) -> Iterator[str]:
        """Log lines of a store's component (one its engine declares; by default its first)
        or of a named pod."""
        slug, namespace, engine = self._live(name)
        if component is None:
            if not engine or not engine.log_components:
                raise SpecError([("component", "must be given: the store's engine declares no log component")],
                                subject="logs request")
            component = engine.log_components[0]
        return ops.logs(self._kube(), namespace, component, tail=tail, since=since, follow=follow)

    def restart(self, name: str, component: str = "all", *, actor: Actor | None = None,
                on_event: EventCallback | None = None) -> ops.RestartResult:
        """Rollout-restart the store's components (``all``, or one the engine declares) and
        wait until the new pods are ready."""
        slug = slugify(name) or name
        with self.audited("restart", slug, name, actor, {"component": component}):
            slug, namespace, engine = self._live(name)
            known = engine.components if engine else ()
            if component != "all" and component not in known:
                raise SpecError([("component", f"must be one of all, {', '.join(known)} (got {component!r})")],
                                subject="restart request")
            components = known if component == "all" else (component,)
            emit = self._emitter(on_event)
            with self._store_lock(slug):
                emit(OperationStarted(store=slug, operation="restart"))
                started = time.monotonic()
                try:
                    done = ops.restart(self._kube(), namespace, components, timeout=self.settings.timeout)
                except StorekitError as e:
                    emit(OperationFinished(store=slug, operation="restart", ok=False, message=e.message,
                                           seconds=round(time.monotonic() - started, 3)))
                    raise
                result = ops.RestartResult(store=slug, restarted=done, at=now_iso(),
                                           seconds=round(time.monotonic() - started, 3))
                emit(OperationFinished(store=slug, operation="restart", seconds=result.seconds,
                                       message=result.text))
                return result

    def reset_admin_password(self, name: str, *, on_event: EventCallback | None = None,
                             actor: Actor | None = None) -> str:
        """Generate a new admin password, apply it, and return it (shown once).

        The password is the store's secret: the stack's config and the Kubernetes Secret
        change, and the engine's setup runs again to set it.
        """
        slug = slugify(name) or name
        with self.audited("reset-password", slug, name, actor, {}):
            with self._store_lock(slug):
                snap = self._snapshot(name)
                if snap.spec is None:
                    raise StoreNotFound(name)
                spec, engine = self.resolve(snap.spec)
                secrets = {**(snap.secrets or engine.generate_secrets()), "admin_password": new_password()}
                plan = self.planner.plan(spec, refresh=False, snap=snap, secrets=secrets)
                self.runner.apply(plan, self._emitter(on_event), snap=snap, secrets=secrets,
                                  operation="reset-password")
                return secrets["admin_password"]


def new_password() -> str:
    return _secrets.token_urlsafe(24)


__all__ = ["Actor", "Storekit", "new_password"]
