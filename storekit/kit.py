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

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterable, Sequence

from pulumi import automation as auto

from .backend import Backend, translate
from .engines import Engine, ProgramContext, get_engine
from .errors import SpecError, StalePlan, StoreBusy, StoreNotFound, StorekitError
from .events import EventCallback, EventTranslator, OperationFinished, OperationStarted
from .plan import Plan, ResourceChange, changes_from_digest, fingerprint
from .results import (ApplyResult, DriftReport, FleetItem, FleetResult, ResourceOutcome,
                      StoreOutputs, StoreSummary)
from .settings import Settings
from .spec import StoreSpec, slugify

SECRETS_CONFIG_KEY = "storekit:secrets"


class Storekit:
    """Provision and change stores. Thread-safe; one instance can serve a whole process."""

    def __init__(self, settings: Settings | None = None, **overrides):
        self.settings = settings.replace(**overrides) if settings and overrides else (
            settings or Settings.load(overrides))
        self.backend = Backend(self.settings)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # ---- helpers -------------------------------------------------------------------

    def _resolve(self, spec: StoreSpec) -> tuple[StoreSpec, Engine]:
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

    def _secrets(self, stack: auto.Stack | None, engine: Engine) -> dict[str, str]:
        """The store's generated secrets: from stack config, then outputs; else new ones."""
        if stack is not None:
            try:
                value = stack.get_config(SECRETS_CONFIG_KEY).value
                return json.loads(value)
            except (auto.CommandError, ValueError):
                pass
            outputs = self.backend.outputs(stack)
            if isinstance(outputs.get("secrets"), dict):
                return outputs["secrets"]
        from storekit.stacks.woocommerce import generate_secrets  # the default generator

        generator = getattr(engine, "generate_secrets", None) or generate_secrets
        return generator()

    def _program(self, spec: StoreSpec, engine: Engine, secrets: dict[str, str]):
        return engine.program(ProgramContext(spec=spec, settings=self.settings, secrets=secrets))

    # ---- plan ----------------------------------------------------------------------

    def spec_of(self, name: str) -> StoreSpec:
        """The spec a store was last applied with."""
        outputs = self.backend.outputs(self._stack(name))
        if not isinstance(outputs.get("spec"), dict):
            raise StoreNotFound(name)
        return StoreSpec.from_dict(outputs["spec"])

    def plan(self, spec: StoreSpec, *, refresh: bool = True) -> Plan:
        """Preview what applying ``spec`` would change. Nothing is changed."""
        spec, engine = self._resolve(spec)
        slug = spec.slug
        stack = self.backend.select(slug)
        self._check_same_store(stack, spec)
        recorded = self.backend.export(stack)
        created_here = stack is None
        secrets = self._secrets(stack, engine)
        program = self._program(spec, engine, secrets)
        if stack is None:
            stack = self.backend.create(slug, program)
        try:
            digest = self._preview(stack, program, refresh=refresh and not created_here,
                                   secrets=secrets.values())
        finally:
            if created_here:
                self.backend.remove(slug)
        changes = changes_from_digest(digest)
        has_changes = any(c.op not in ("same", "read") for c in changes)
        action = "create" if created_here or not recorded.get("resources") else (
            "update" if has_changes else "noop")
        return Plan(store=slug, action=action, spec=spec, changes=changes,
                    fingerprint=fingerprint(recorded), state_url=self.settings.state_url,
                    drift=self._drift_from_digest(digest) if refresh else (), refreshed=refresh)

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

    def _check_same_store(self, stack: auto.Stack | None, spec: StoreSpec) -> None:
        """Two names that slug alike would share one stack: refuse the second."""
        if stack is None:
            return
        recorded = self.backend.outputs(stack).get("name")
        if recorded and recorded != spec.name:
            raise SpecError([("name", f"slugs to '{spec.slug}', which store '{recorded}' already uses")])

    def _preview(self, stack: auto.Stack, program, *, refresh: bool, secrets: Iterable[str]) -> dict:
        try:
            result = stack.preview(program=program, json=True, refresh=refresh, color="never")
        except auto.CommandError as e:
            raise translate(e, stack.name, secrets, _json_diagnostics(e)) from e
        return json.loads(result.stdout)

    @staticmethod
    def _drift_from_digest(digest: dict) -> tuple[ResourceChange, ...]:
        # A refreshed preview reports an object deleted live as a create of the recorded
        # resource; objects changed live show up as updates back to the desired state.
        return tuple(c for c in changes_from_digest(digest) if c.op in ("update", "create", "replace"))

    # ---- apply ---------------------------------------------------------------------

    def apply(self, target: Plan | StoreSpec, *, on_event: EventCallback | None = None) -> ApplyResult:
        """Apply a plan (refusing a stale one) or plan-and-apply a spec."""
        plan = target if isinstance(target, Plan) else self.plan(target)
        if plan.state_url != self.settings.state_url:
            raise StalePlan(plan.store) from SpecError(
                [("state_url", f"plan was made against {plan.state_url}, not {self.settings.state_url}")])
        with self._store_lock(plan.store):
            if plan.action == "destroy":
                return self._destroy(plan, on_event)
            return self._apply(plan, on_event)

    def _apply(self, plan: Plan, on_event: EventCallback | None) -> ApplyResult:
        spec, engine = self._resolve(plan.spec)
        stack = self.backend.select(plan.store)
        if fingerprint(self.backend.export(stack)) != plan.fingerprint:
            raise StalePlan(plan.store)
        if not plan.has_changes:
            return ApplyResult(store=plan.store, action="noop", ok=True, seconds=0.0,
                               summary=plan.summary.to_dict(), outputs=self._outputs(stack))
        secrets = self._secrets(stack, engine)
        program = self._program(spec, engine, secrets)
        if stack is None:
            stack = self.backend.create(plan.store, program)
        try:
            stack.set_config(SECRETS_CONFIG_KEY, auto.ConfigValue(json.dumps(secrets), secret=True))
        except auto.CommandError as e:
            raise translate(e, plan.store, secrets.values()) from e
        result = self._run(stack, "apply", plan, engine, secrets, on_event,
                           lambda cb: stack.up(program=program, on_event=cb, refresh=plan.refreshed,
                                               color="never", show_secrets=False, suppress_outputs=True))
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
            error = translate(e, plan.store, secrets.values(), translator.errors)
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

    def destroy(self, name: str, *, on_event: EventCallback | None = None) -> ApplyResult:
        """Remove every object of the store and its stack."""
        return self.apply(self.plan_destroy(name), on_event=on_event)

    def _destroy(self, plan: Plan, on_event: EventCallback | None) -> ApplyResult:
        stack = self.backend.select(plan.store)
        if stack is None:
            raise StoreNotFound(plan.store)
        if fingerprint(self.backend.export(stack)) != plan.fingerprint:
            raise StalePlan(plan.store)
        outputs = self.backend.outputs(stack)
        secrets = outputs.get("secrets") if isinstance(outputs.get("secrets"), dict) else {}
        engine = None
        if isinstance(outputs.get("engine"), str):
            try:
                engine = get_engine(outputs["engine"])
            except SpecError:
                engine = None
        result = self._run(stack, "destroy", plan, engine, secrets, on_event,
                           lambda cb: stack.destroy(on_event=cb, color="never", suppress_outputs=True))
        self.backend.remove(plan.store)
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

    def unlock(self, name: str) -> None:
        """Clear a stuck lock left by a crashed process (``pulumi cancel``)."""
        stack = self._stack(name)
        try:
            stack.cancel()
        except auto.CommandError as e:
            raise translate(e, stack.name) from e

    # ---- fleets --------------------------------------------------------------------

    def plan_many(self, specs: Sequence[StoreSpec], *, parallel: int | None = None,
                  refresh: bool = True) -> FleetResult:
        return self._fleet(specs, lambda s: FleetItem(store=s.slug, plan=self.plan(s, refresh=refresh)),
                           parallel)

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


def _step_by_kind(resource_type: str, resource_name: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def _json_diagnostics(error: auto.CommandError) -> list[str]:
    """Error diagnostics from a failed ``preview --json`` (its stdout is the digest)."""
    try:
        digest = json.loads(getattr(error, "stdout", "") or "{}")
    except ValueError:
        return []
    return [d.get("message", "").strip() for d in digest.get("diagnostics") or ()
            if d.get("severity") == "error"]
