"""Planning: desired against recorded (refreshed against live), as a ``Plan``.

``Planner.plan`` previews a spec over one ``Snapshot`` of the store's stack; planning a
store that does not exist yet creates its stack, previews, and removes it again, so a
plan leaves nothing behind. Nothing here writes the catalog or changes a store.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .engine import Engine, ProgramContext
from .engines import available_engines, get_engine
from .errors import EngineUnavailable, SpecError
from .events import urn_name
from .fastpath import FastPath
from .plan import Plan, ResourceChange, changes_from_digest, spec_changes
from .settings import Settings
from .spec import StoreSpec

if TYPE_CHECKING:  # the engine-facing modules load when a plan reaches the engine (start-up time)
    from .gateway import Snapshot, StackGateway


def resolve(settings: Settings, spec: StoreSpec) -> tuple[StoreSpec, Engine]:
    """The spec with platform settings filled in, and its engine; one SpecError lists
    every problem (including an unknown engine)."""
    if not isinstance(spec, StoreSpec):
        raise SpecError([("spec", "must be a StoreSpec")])
    problems = spec.problems()
    if problems:
        raise SpecError(problems)
    engine = get_engine(spec.engine)
    if not engine.available or engine.program is None:
        raise EngineUnavailable(f"the '{engine.name}' engine is not available yet: {engine.unavailable_reason}",
                                hint=f"Use one of: {', '.join(available_engines())}.")
    if spec.backup:
        _check_schedule(settings, engine)
    return spec.resolve(settings), engine


def _check_schedule(settings: Settings, engine) -> None:
    """A scheduled backup runs in the cluster: it needs the engine's support and an s3:// location."""
    location = str(settings.backup_location or "")
    if engine.backup is None or "backup" not in engine.optional_images:
        raise SpecError([("backup", f"scheduled backups are not available for {engine.name} stores yet")])
    if not location.startswith("s3://") or not settings.s3_endpoint or not settings.s3_access_key \
            or not settings.s3_secret_key:
        raise SpecError([("backup.schedule", "needs an s3:// backup location the cluster can reach: set "
                                             "STOREKIT_BACKUP_LOCATION=s3://bucket/prefix and STOREKIT_S3_ENDPOINT, "
                                             "STOREKIT_S3_ACCESS_KEY, STOREKIT_S3_SECRET_KEY")])


class Planner:
    def __init__(self, settings: Settings, gateway: StackGateway, *, fast: FastPath | None = None):
        from .engineplan import EnginePlans

        self.settings, self.gateway = settings, gateway
        self.fast = fast or FastPath(settings)
        self.engine_plans = EnginePlans(gateway.work_dir)

    def resolve(self, spec: StoreSpec) -> tuple[StoreSpec, Engine]:
        return resolve(self.settings, spec)

    def program(self, spec: StoreSpec, engine: Engine, secrets: dict[str, str]):
        return engine.program(ProgramContext(spec=spec, settings=self.settings, secrets=secrets,
                                             tier=engine.tier(spec.tier)))

    def plan(self, spec: StoreSpec, *, refresh: bool | None, snap: Snapshot | None = None,
             secrets: dict[str, str] | None = None) -> Plan:
        """``refresh``: True runs the engine's refresh; None and False first try the
        engine-free plan (``storekit.fastpath``), then the engine with or without refresh."""
        spec, engine = self.resolve(spec)
        slug = spec.slug
        if refresh is not True and snap is None and secrets is None:
            quick = self.fast.plan(spec, engine)
            if quick is not None:
                return quick
        refresh = refresh is not False
        snap = snap or self.gateway.snapshot(slug)
        recorded_name = snap.outputs.get("name")
        if recorded_name and recorded_name != spec.name:  # two names that slug alike
            raise SpecError([("name", f"slugs to '{slug}', which store '{recorded_name}' already uses")])
        recorded_spec = snap.spec
        if recorded_spec is not None:
            check_volumes_grow(engine, recorded_spec, spec)
        created_here = not snap.exists
        secrets = secrets or snap.secrets or engine.generate_secrets()
        program = self.program(spec, engine, secrets)
        stack = snap.stack or self.gateway.create(slug, program)
        done = self.fast.bracket(spec, engine, snap.deployment) if refresh and snap.exists else None
        # The engine's update plan, kept for the apply of this plan (storekit.engineplan).
        saved = self.engine_plans.scratch(slug)
        try:
            digest = self.gateway.preview(stack, program, refresh=refresh and not created_here,
                                          secrets=secrets.values(), save_plan=saved)
        except BaseException:
            self.engine_plans.discard(saved)
            raise
        finally:
            if created_here:
                self.gateway.remove(slug)
        changes = changes_from_digest(digest, snap.deployment)
        has_changes = any(c.op not in ("same", "read") for c in changes)
        action = "create" if created_here or not snap.has_resources else ("update" if has_changes else "noop")
        drift = ()
        if refresh and not created_here:
            drift = drift_of(changes, snap.deployment, spec_unchanged=recorded_spec == spec)
        plan = Plan(store=slug, action=action, spec=spec, changes=changes, fingerprint=snap.fingerprint,
                    state_url=self.settings.state_url, drift=drift, refreshed=refresh,
                    spec_changes=spec_changes(recorded_spec if snap.has_resources else None, spec))
        if done is not None and recorded_spec == spec:
            done(plan)
        if not created_here:
            self.engine_plans.keep(plan, saved)
        elif saved.exists():
            from .engineplan import Prepared

            plan = replace(plan, prepared=Prepared(secrets=dict(secrets), engine_plan=saved))
        return plan

    def plan_destroy(self, snap: Snapshot) -> Plan:
        changes = tuple(
            ResourceChange(name=urn_name(r["urn"]), type=r["type"], op="delete",
                           kube_name=((r.get("inputs") or {}).get("metadata") or {}).get("name"))
            for r in reversed((snap.deployment or {}).get("resources") or [])
            if r.get("custom") and not r["type"].startswith("pulumi:providers:"))
        return Plan(store=snap.slug, action="destroy", spec=None, changes=changes, fingerprint=snap.fingerprint,
                    state_url=self.settings.state_url)


def check_volumes_grow(engine: Engine, before: StoreSpec, after: StoreSpec) -> None:
    """Kubernetes volumes can grow but never shrink: refuse a tier that would shrink one."""
    shrinking = engine.shrinking_volumes(before.tier, after.tier)
    if shrinking:
        raise SpecError([("tier", f"cannot move from {before.tier} to {after.tier}: volumes can grow "
                                  f"but not shrink ({', '.join(shrinking)})")])


def drift_of(changes, recorded: dict | None, *, spec_unchanged: bool) -> tuple[ResourceChange, ...]:
    """The changes that come from the live cluster, not from the spec.

    A refreshed preview reports an object deleted behind storekit's back as a create of
    a resource the recorded state has. When the spec did not change, every change is
    drift (an object changed live, being put back).
    """
    known = {(urn_name(r["urn"]), r["type"]) for r in (recorded or {}).get("resources") or ()}
    return tuple(c for c in changes
                 if (c.op == "create" and (c.name, c.type) in known)
                 or (spec_unchanged and c.op in ("update", "replace", "delete")))
