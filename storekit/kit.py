"""``Storekit``: the library's front door. Plan, apply, destroy, drift, outputs, fleets.

The three states: a ``StoreSpec`` is desired; the store's Pulumi stack is recorded; the
objects in the cluster are live. ``plan`` previews desired against recorded (refreshed
against live by default, like Terraform), ``apply`` runs exactly a plan (or plans and
applies a spec), ``drift`` shows what changed live behind storekit's back, ``destroy``
removes every object and the stack.

Generated secrets are made once per store and kept encrypted in the stack's config
(written before the first update, so a failed first apply keeps them) and in its
outputs (so another machine sharing the backend can read them). They never appear in
plans, events, results or errors.
"""

from __future__ import annotations

import getpass
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from pulumi import automation as auto

from .backend import Backend, translate
from .catalog import Catalog, utcnow
from .engines import Engine, ProgramContext, get_engine
from .errors import SpecError, StalePlan, StoreBusy, StoreNotFound, StorekitError
from .events import (Event, EventCallback, EventTranslator, OperationFinished, OperationStarted,
                     ResourceFailed, ResourceFinished, ResourceStarted, urn_name)
from .fleet import FleetPlan
from .plan import Plan, ResourceChange, changes_from_digest, fingerprint
from .redact import redact_url
from .results import (ApplyResult, DriftReport, FleetItem, FleetResult, ResourceOutcome,
                      StoreOutputs, StoreSummary)
from . import ops
from .settings import Settings
from .spec import NAMESPACE_PREFIX, StoreSpec, slugify

SECRETS_CONFIG_KEY = "storekit:secrets"


@dataclass(frozen=True)
class Actor:
    """Who does something, for the audit trail: a user, the front end, a client IP."""

    name: str
    source: str = "library"  # library | cli | web | api | worker
    ip: str | None = None


class Storekit:
    """Provision and change stores. Thread-safe; one instance can serve a whole process.

    Every mutating call (apply, destroy, restart, password reset, unlock) writes one audit
    entry to the catalog, as ``actor`` (default: the OS user, source ``library``) unless the
    call names another.
    """

    def __init__(self, settings: Settings | None = None, *, actor: Actor | None = None,
                 catalog: Catalog | None = None, **overrides):
        self.settings = settings.replace(**overrides) if settings and overrides else (
            settings or Settings.load(overrides))
        self.backend = Backend(self.settings)
        self.actor = actor or Actor(name=_os_user())
        self._catalog = catalog
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog.open(self.settings.db_url)
        return self._catalog

    @contextmanager
    def _audited(self, action: str, slug: str, name: str | None, actor: Actor | None, details: dict):
        """Write one audit entry for a mutating call, whatever its outcome."""
        actor = actor or self.actor
        try:
            yield details
        except StorekitError as e:
            self.catalog.audit(action, resource_id=slug, resource_name=name, actor=actor.name,
                               source=actor.source, ip_address=actor.ip, outcome="failed",
                               details={**details, "error": e.kind, "message": e.message})
            raise
        self.catalog.audit(action, resource_id=slug, resource_name=name, actor=actor.name,
                           source=actor.source, ip_address=actor.ip, details=details)

    def _recorder(self, slug: str, on_event: EventCallback | None) -> EventCallback:
        """An event sink that writes the catalog's timeline, then calls ``on_event``."""
        def record(event: Event) -> None:
            if isinstance(event, ResourceStarted):
                self.catalog.add_event(slug, event.step, "started", resource=event.resource,
                                       message=f"{event.op} {event.type.rsplit(':', 1)[-1]}")
            elif isinstance(event, ResourceFinished):
                self.catalog.add_event(slug, event.step, "finished", resource=event.resource,
                                       message=f"{event.op} {event.type.rsplit(':', 1)[-1]}",
                                       seconds=event.seconds)
            elif isinstance(event, ResourceFailed):
                self.catalog.add_event(slug, event.step, "failed", resource=event.resource,
                                       message=event.message, seconds=event.seconds)
            elif isinstance(event, OperationFinished):
                step = ("Ready" if event.operation == "apply" else "Deleted") if event.ok else "Failed"
                self.catalog.add_event(slug, step, "finished" if event.ok else "failed",
                                       message=event.message or None, seconds=event.seconds)
            if on_event is not None:
                on_event(event)
        return record

    # ---- helpers -------------------------------------------------------------------

    def resolve(self, spec: StoreSpec) -> tuple[StoreSpec, Engine]:
        """The spec with platform settings filled in, and its engine; one SpecError lists
        every problem (including an unknown engine)."""
        if not isinstance(spec, StoreSpec):
            raise SpecError([("spec", "must be a StoreSpec")])
        problems = spec.problems()
        try:
            engine = get_engine(spec.engine)
        except SpecError as e:
            problems += e.problems
            engine = None
        if problems:
            raise SpecError(problems)
        resolved = spec.resolve(self.settings)
        return resolved, engine.require_available()

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

    def _stack(self, name: str) -> auto.Stack:
        slug = slugify(name) or name
        stack = self.backend.select(slug)
        if stack is None:
            raise StoreNotFound(name)
        return stack

    def _secrets(self, stack: auto.Stack | None, engine: Engine, outputs: dict | None = None) -> dict[str, str]:
        """The store's generated secrets: from its outputs, then its config; else new ones."""
        if stack is not None:
            outputs = self.backend.outputs(stack) if outputs is None else outputs
            if isinstance(outputs.get("secrets"), dict):
                return dict(outputs["secrets"])
            try:
                return json.loads(stack.get_config(SECRETS_CONFIG_KEY).value)
            except (auto.CommandError, ValueError):
                pass
        from storekit.stacks.woocommerce import generate_secrets  # the default generator

        generator = getattr(engine, "generate_secrets", None) or generate_secrets
        return generator()

    def _program(self, spec: StoreSpec, engine: Engine, secrets: dict[str, str]):
        return engine.program(ProgramContext(spec=spec, settings=self.settings, secrets=secrets))

    # ---- plan ----------------------------------------------------------------------

    def spec_of(self, name: str) -> StoreSpec:
        """The spec a store was last applied with."""
        spec = _spec_from(self.backend.outputs(self._stack(name)))
        if spec is None:
            raise StoreNotFound(name)
        return spec

    def plan(self, spec: StoreSpec, *, refresh: bool = True) -> Plan:
        """Preview what applying ``spec`` would change. Nothing is changed."""
        return self._plan(spec, refresh=refresh)

    def _plan(self, spec: StoreSpec, *, refresh: bool, secrets: dict[str, str] | None = None) -> Plan:
        spec, engine = self.resolve(spec)
        slug = spec.slug
        stack = self.backend.select(slug)
        outputs = self.backend.outputs(stack) if stack is not None else {}
        recorded_name = outputs.get("name")
        if recorded_name and recorded_name != spec.name:  # two names that slug alike
            raise SpecError([("name", f"slugs to '{slug}', which store '{recorded_name}' already uses")])
        recorded_spec = _spec_from(outputs)
        if recorded_spec is not None:
            _check_volumes_grow(recorded_spec, spec)
        recorded = self.backend.export(stack)
        created_here = stack is None
        secrets = secrets or self._secrets(stack, engine, outputs)
        program = self._program(spec, engine, secrets)
        if stack is None:
            stack = self.backend.create(slug, program)
        try:
            digest = self._preview(stack, program, refresh=refresh and not created_here,
                                   secrets=secrets.values())
        finally:
            if created_here:
                self.backend.remove(slug)
        changes = changes_from_digest(digest, recorded)
        has_changes = any(c.op not in ("same", "read") for c in changes)
        action = "create" if created_here or not (recorded or {}).get("resources") else (
            "update" if has_changes else "noop")
        drift = ()
        if refresh and not created_here:
            drift = _drift(changes, recorded, spec_unchanged=recorded_spec == spec)
        return Plan(store=slug, action=action, spec=spec, changes=changes,
                    fingerprint=fingerprint(recorded), state_url=self.settings.state_url,
                    drift=drift, refreshed=refresh)

    def plan_destroy(self, name: str) -> Plan:
        stack = self._stack(name)
        recorded = self.backend.export(stack) or {}
        changes = tuple(
            ResourceChange(name=r["urn"].rsplit("::", 1)[-1], type=r["type"], op="delete",
                           kube_name=((r.get("inputs") or {}).get("metadata") or {}).get("name"))
            for r in reversed(recorded.get("resources") or [])
            if r.get("custom") and not r["type"].startswith("pulumi:providers:"))
        spec = None
        return Plan(store=stack.name, action="destroy", spec=spec, changes=changes,
                    fingerprint=fingerprint(recorded), state_url=self.settings.state_url)

    def _preview(self, stack: auto.Stack, program, *, refresh: bool, secrets: Iterable[str]) -> dict:
        out: list[str] = []
        try:
            result = stack.preview(program=program, json=True, refresh=refresh, color="never",
                                   on_output=out.append)
        except auto.CommandError as e:
            raise translate(e, stack.name, secrets, _json_diagnostics("\n".join(out))) from e
        return json.loads(result.stdout)

    # ---- apply ---------------------------------------------------------------------

    def apply(self, target: Plan | StoreSpec, *, on_event: EventCallback | None = None,
              actor: Actor | None = None) -> ApplyResult:
        """Apply a plan (refusing a stale one) or plan-and-apply a spec."""
        slug = target.store if isinstance(target, Plan) else target.slug
        name = target.name if isinstance(target, (Plan, StoreSpec)) else None
        action = target.action if isinstance(target, Plan) else "apply"
        with self._audited("destroy" if action == "destroy" else "apply", slug, name, actor, {}) as details:
            plan = target if isinstance(target, Plan) else self.plan(target)
            details.update(action=plan.action, summary=plan.summary.text,
                           tier=plan.spec.tier if plan.spec else None)
            made_against, here = redact_url(plan.state_url), redact_url(self.settings.state_url)
            if made_against != here:  # plans carry the URL without its password
                raise StalePlan(plan.store) from SpecError(
                    [("state_url", f"plan was made against {made_against}, not {here}")])
            with self._store_lock(plan.store):
                if plan.action == "destroy":
                    return self._destroy(plan, on_event)
                return self._apply(plan, on_event)

    def _check_current(self, stack: auto.Stack | None, plan: Plan) -> None:
        """Refuse a plan whose store is being changed (StoreBusy) or has changed (StalePlan)."""
        holder = self.backend.lock_holder(plan.store)
        if holder:
            raise StoreBusy(plan.store, holder=holder[0], since=holder[1])
        if fingerprint(self.backend.export(stack)) != plan.fingerprint:
            raise StalePlan(plan.store)

    def _apply(self, plan: Plan, on_event: EventCallback | None,
               secrets: dict[str, str] | None = None) -> ApplyResult:
        spec, engine = self.resolve(plan.spec)
        stack = self.backend.select(plan.store)
        self._check_current(stack, plan)
        if not plan.has_changes:
            outputs = self._outputs(stack)
            if self.catalog.store(plan.store) is None:  # a store made before this catalog existed
                self.catalog.upsert_store(spec, status="Ready", url=outputs.url, admin_url=outputs.admin_url)
            return ApplyResult(store=plan.store, action="noop", ok=True, seconds=0.0,
                               summary=plan.summary.to_dict(), outputs=outputs)
        secrets = secrets or self._secrets(stack, engine)
        program = self._program(spec, engine, secrets)
        if stack is None:
            stack = self.backend.create(plan.store, program)
        try:
            stack.set_config(SECRETS_CONFIG_KEY, auto.ConfigValue(json.dumps(secrets), secret=True))
        except auto.CommandError as e:
            raise translate(e, plan.store, secrets.values()) from e
        record = self.catalog.store(plan.store)
        first_time = record is None or record.provisioned_at is None or record.status == "Deleted"
        self.catalog.upsert_store(spec, status="Provisioning", error_message=None,
                                  **({"created_at": utcnow(), "provisioned_at": None} if first_time else {}))
        try:
            result = self._run(stack, "apply", plan, engine, secrets, self._recorder(plan.store, on_event),
                               lambda cb: stack.up(program=program, on_event=cb, refresh=plan.refreshed,
                                                   color="never", show_secrets=False, suppress_outputs=True))
        except StorekitError as e:
            self.catalog.set_status(plan.store, "Failed", error_message=e.message)
            raise
        out = result.outputs
        self.catalog.set_status(plan.store, "Ready", url=out.url, admin_url=out.admin_url,
                                **({"provisioned_at": utcnow()} if first_time else {}))
        return result

    def _run(self, stack, operation: str, plan: Plan, engine: Engine, secrets: dict,
             on_event: EventCallback | None, call) -> ApplyResult:
        translator = EventTranslator(plan.store, engine.step_of if engine else _step_by_kind,
                                     secrets.values(), on_event)
        translator.emit(OperationStarted(store=plan.store, operation=operation))
        started = time.monotonic()
        try:
            call(translator)
        except auto.CommandError as e:
            error = translate(e, plan.store, secrets.values(), translator.errors,
                              translator.failure_warnings())
            translator.emit(OperationFinished(store=plan.store, operation=operation, ok=False,
                                              seconds=round(time.monotonic() - started, 3),
                                              message=error.message))
            raise error from None
        seconds = round(time.monotonic() - started, 3)
        translator.emit(OperationFinished(store=plan.store, operation=operation, ok=True, seconds=seconds))
        outcomes = tuple(ResourceOutcome(**{k: o[k] for k in ("resource", "type", "op", "step", "status",
                                                                "seconds")}, message=o.get("message", ""))
                         for o in translator.outcomes.values())
        outputs = self._outputs(stack) if operation == "apply" else None
        return ApplyResult(store=plan.store, action=plan.action, ok=True, seconds=seconds,
                           summary=plan.summary.to_dict(), resources=outcomes, outputs=outputs)

    # ---- destroy -------------------------------------------------------------------

    def destroy(self, name: str, *, on_event: EventCallback | None = None,
                actor: Actor | None = None) -> ApplyResult:
        """Remove every object of the store and its stack."""
        slug = slugify(name) or name
        with self._audited("destroy", slug, name, actor, {}) as details:
            plan = self.plan_destroy(name)
            details.update(action="destroy", summary=plan.summary.text)
            with self._store_lock(plan.store):
                return self._destroy(plan, on_event)

    def _destroy(self, plan: Plan, on_event: EventCallback | None) -> ApplyResult:
        stack = self.backend.select(plan.store)
        if stack is None:
            raise StoreNotFound(plan.store)
        self._check_current(stack, plan)
        outputs = self.backend.outputs(stack)
        secrets = outputs.get("secrets") if isinstance(outputs.get("secrets"), dict) else {}
        engine = None
        if isinstance(outputs.get("engine"), str):
            try:
                engine = get_engine(outputs["engine"])
            except SpecError:
                engine = None
        self.catalog.set_status(plan.store, "Deleting")
        try:
            result = self._run(stack, "destroy", plan, engine, secrets, self._recorder(plan.store, on_event),
                               lambda cb: stack.destroy(on_event=cb, color="never", suppress_outputs=True))
        except StorekitError as e:
            self.catalog.set_status(plan.store, "Failed", error_message=e.message)
            raise
        self.backend.remove(plan.store)
        self.catalog.set_status(plan.store, "Deleted")
        return result

    # ---- reading -------------------------------------------------------------------

    def _outputs(self, stack: auto.Stack) -> StoreOutputs:
        out = self.backend.outputs(stack)
        if not out.get("slug"):
            raise StoreNotFound(stack.name)
        try:
            history = stack.history(page_size=1)
        except auto.CommandError as e:
            raise translate(e, stack.name) from e
        last = history[0] if history else None
        status = "ready"
        if last is not None and last.result != "succeeded":
            status = "updating" if last.result == "in-progress" else "failed"
        return StoreOutputs(
            name=out.get("name", stack.name), slug=out["slug"], namespace=out.get("namespace", ""),
            url=out.get("url", ""), admin_url=out.get("admin_url", ""), admin_user=out.get("admin_user", ""),
            engine=out.get("engine", ""), tier=out.get("tier", ""), status=status,
            last_update=last.end_time.isoformat() if last and last.end_time else None)

    def outputs(self, name: str) -> StoreOutputs:
        return self._outputs(self._stack(name))

    def reveal_admin_password(self, name: str) -> str:
        """The store's WordPress admin password: an explicit, separate call."""
        stack = self._stack(name)
        secrets = self.backend.outputs(stack).get("secrets") or {}
        if "admin_password" not in secrets:
            raise StoreNotFound(name)
        return secrets["admin_password"]

    def manifests(self, name: str, *, reveal: bool = False) -> list[dict]:
        """The store's Kubernetes objects as recorded at its last apply, in dependency order;
        secret values redacted unless ``reveal`` (see ``storekit.manifests``)."""
        from .manifests import objects_from_state

        return objects_from_state(self.backend.export(self._stack(name)), reveal=reveal)

    def drift(self, name: str) -> DriftReport:
        """What changed in the cluster behind storekit's back (nothing is changed)."""
        stack = self._stack(name)
        spec = self.spec_of(name)
        plan = self.plan(spec, refresh=True)
        return DriftReport(store=stack.name, changes=plan.drift)

    def list(self) -> list[StoreSummary]:
        """Stores the state backend knows, with their last update."""
        return [StoreSummary(slug=s.name, last_update=s.last_update, resource_count=s.resource_count,
                             update_in_progress=s.update_in_progress)
                for s in self.backend.list() if s.resource_count > 0 or s.update_in_progress]

    def unlock(self, name: str, *, actor: Actor | None = None) -> None:
        """Clear a stuck lock left by a crashed process (``pulumi cancel``)."""
        slug = slugify(name) or name
        with self._audited("unlock", slug, name, actor, {}):
            stack = self._stack(name)
            try:
                stack.cancel()
            except auto.CommandError as e:
                raise translate(e, stack.name) from e

    # ---- day-2 operations ------------------------------------------------------

    def _kube(self):
        from .toolchain import cluster_api

        return cluster_api(self.settings)[1]

    def _namespace(self, name: str) -> tuple[str, str]:
        stack = self._stack(name)
        return stack.name, f"{NAMESPACE_PREFIX}{stack.name}"

    def health(self, name: str) -> ops.StoreHealth:
        """Pods, volumes and quota usage of a store, read live."""
        slug, namespace = self._namespace(name)
        return ops.health(self._kube(), slug, namespace)

    def logs(self, name: str, component: str = "wordpress", *, tail: int | None = 200,
             since: int | None = None, follow: bool = False) -> Iterator[str]:
        """Log lines of a store's component (``wordpress``, ``mysql``) or of a named pod."""
        slug, namespace = self._namespace(name)
        return ops.logs(self._kube(), namespace, component, tail=tail, since=since, follow=follow)

    def restart(self, name: str, component: str = "all", *, actor: Actor | None = None) -> dict:
        """Rollout-restart WordPress, MySQL or both, and wait until the new pods are ready."""
        slug = slugify(name) or name
        with self._audited("restart", slug, name, actor, {"component": component}):
            if component not in ("all",) + ops.COMPONENTS:
                raise SpecError([("component", f"must be one of all, {', '.join(ops.COMPONENTS)} "
                                               f"(got {component!r})")], subject="restart request")
            slug, namespace = self._namespace(name)
            components = ops.COMPONENTS if component == "all" else (component,)
            with self._store_lock(slug):
                return ops.restart(self._kube(), namespace, components, timeout=self.settings.timeout)

    def reset_admin_password(self, name: str, *, on_event: EventCallback | None = None,
                             actor: Actor | None = None) -> str:
        """Generate a new WordPress admin password, apply it, and return it (shown once).

        The password is the store's secret: the stack's config and the Kubernetes Secret
        change, and the setup Job runs again to set it in WordPress.
        """
        slug = slugify(name) or name
        with self._audited("reset-password", slug, name, actor, {}):
            with self._store_lock(slug):
                stack = self._stack(name)
                spec, engine = self.resolve(self.spec_of(name))
                secrets = {**self._secrets(stack, engine), "admin_password": new_password()}
                self._apply(self._plan(spec, refresh=False, secrets=secrets), on_event, secrets=secrets)
                return secrets["admin_password"]

    # ---- fleets --------------------------------------------------------------------

    def plan_many(self, specs: Sequence[StoreSpec], *, parallel: int | None = None,
                  refresh: bool = True) -> FleetResult:
        return self._fleet(specs, lambda s: FleetItem(store=s.slug, plan=self.plan(s, refresh=refresh)),
                           parallel)

    def plan_fleet(self, specs: Sequence[StoreSpec], *, prune: bool = False, parallel: int | None = None,
                   refresh: bool = True) -> FleetPlan:
        """Plan every store of a fleet; with ``prune``, destroy stores the fleet lacks."""
        planned = self.plan_many(specs, parallel=parallel, refresh=refresh)
        plans = [i.plan for i in planned.items if i.plan is not None]
        errors = [(i.store, i.error) for i in planned.items if i.error]
        if prune:
            wanted = {s.slug for s in specs}
            plans += [self.plan_destroy(s.slug) for s in self.list() if s.slug not in wanted]
        return FleetPlan(plans=tuple(plans), errors=tuple(errors))

    def apply_many(self, items: Sequence[Plan | StoreSpec], *, parallel: int | None = None,
                   on_event: EventCallback | None = None) -> FleetResult:
        """Apply many plans or specs, ``parallel`` at a time; one failure stops no other."""
        def one(item):
            result = self.apply(item, on_event=on_event)
            return FleetItem(store=result.store, result=result)
        return self._fleet(items, one, parallel)

    def _fleet(self, items, work, parallel: int | None) -> FleetResult:
        parallel = parallel or self.settings.parallel
        started = time.monotonic()

        def guarded(item):
            try:
                return work(item)
            except StorekitError as e:
                store = item.store if isinstance(item, Plan) else getattr(item, "slug", str(item))
                return FleetItem(store=store, error=str(e), error_kind=e.kind)

        with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="storekit") as pool:
            results = tuple(pool.map(guarded, items))
        return FleetResult(items=results, seconds=round(time.monotonic() - started, 3))


def _spec_from(outputs: dict) -> StoreSpec | None:
    try:
        return StoreSpec.from_dict(outputs["spec"]) if isinstance(outputs.get("spec"), dict) else None
    except SpecError:
        return None


def _check_volumes_grow(before: StoreSpec, after: StoreSpec) -> None:
    """Kubernetes volumes can grow but never shrink: refuse a tier that would shrink one."""
    old, new = before.tier_sizes, after.tier_sizes
    shrinking = [f"{name} {getattr(old, attr)} > {getattr(new, attr)}"
                 for name, attr in (("wordpress", "wordpress_storage"), ("mysql", "mysql_storage"))
                 if ops.quantity(getattr(new, attr)) < ops.quantity(getattr(old, attr))]
    if shrinking:
        raise SpecError([("tier", f"cannot move from {before.tier} to {after.tier}: volumes can grow "
                                  f"but not shrink ({', '.join(shrinking)})")])


def _drift(changes, recorded: dict | None, *, spec_unchanged: bool) -> tuple[ResourceChange, ...]:
    """The changes that come from the live cluster, not from the spec.

    A refreshed preview reports an object deleted behind storekit's back as a create of
    a resource the recorded state has. When the spec did not change, every change is
    drift (an object changed live, being put back).
    """
    known = {(urn_name(r["urn"]), r["type"]) for r in (recorded or {}).get("resources") or ()}
    return tuple(c for c in changes
                 if (c.op == "create" and (c.name, c.type) in known)
                 or (spec_unchanged and c.op in ("update", "replace", "delete")))


def new_password() -> str:
    import secrets as _secrets

    return _secrets.token_urlsafe(24)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _step_by_kind(resource_type: str, resource_name: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def _json_diagnostics(stdout: str) -> list[str]:
    """Error diagnostics from a failed ``preview --json`` (its stdout is the digest)."""
    try:
        digest = json.loads(stdout or "{}")
    except ValueError:
        return []
    diagnostics = [d for d in digest.get("diagnostics") or () if d.get("severity") == "error"]
    diagnostics.sort(key=lambda d: not d.get("urn"))  # resource errors first: they say what broke
    return [d.get("message", "").strip() for d in diagnostics]
