"""Running plans: apply and destroy over one ``Snapshot``, reporting through events.

``Runner`` refuses a plan whose store is being changed (``StoreBusy``) or has changed
since the plan was made (``StalePlan``), or that the engine would now carry out differently
(``PlanMismatch``: the update is bound to the engine's own update plan, ``engineplan``),
runs the engine through the gateway, and emits
``OperationStarted`` / resource events / ``OperationFinished``. It writes nothing to the
catalog: the catalog subscribes to the events (``recorder``).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable

from .engine import Engine
from .engines import registry
from .engineplan import differences
from .errors import OperationTimeout, PlanMismatch, StalePlan, StoreBusy, StoreNotFound, StorekitError
from .events import EventCallback, EventTranslator, OperationFinished, OperationStarted, StoreInSync, scrub
from .gateway import Snapshot, StackGateway
from .plan import Plan, changes_from_digest
from .planning import Planner
from .results import ApplyResult, ResourceOutcome, StoreOutputs
from .scheduling import explain
from .settled import wait_rolled_out
from .toolchain import cluster_api


class Runner:
    def __init__(self, planner: Planner, gateway: StackGateway):
        self.planner, self.gateway = planner, gateway

    def refuse_if_busy(self, slug: str) -> None:
        """StoreBusy while another process changes the store (checked before anything is read)."""
        holder = self.gateway.lock_holder(slug)
        if holder:
            raise StoreBusy(slug, holder=holder[0], since=holder[1])

    def check_current(self, snap: Snapshot, plan: Plan) -> None:
        """Refuse a plan whose store is being changed (StoreBusy) or has changed (StalePlan)."""
        self.refuse_if_busy(plan.store)
        if plan.fingerprint.startswith("baseline:"):  # an engine-free plan: is it still the store?
            if not self.planner.fast.verify(plan):
                raise StalePlan(plan.store)
        elif snap.fingerprint != plan.fingerprint:
            raise StalePlan(plan.store)

    def apply(self, plan: Plan, emit: EventCallback, *, snap: Snapshot | None = None,
              secrets: dict[str, str] | None = None, operation: str = "apply") -> ApplyResult:
        spec, engine = self.planner.resolve(plan.spec)
        self.refuse_if_busy(plan.store)
        snap = snap or self.gateway.snapshot(plan.store)
        self.check_current(snap, plan)
        if not plan.has_changes:
            outputs = self.outputs(snap)
            emit(StoreInSync(store=plan.store, spec=spec, outputs=outputs))
            return ApplyResult(store=plan.store, action="noop", seconds=0.0, summary=plan.summary.to_dict(),
                               outputs=outputs)
        prepared = plan.prepared if snap.stack is None else None  # a new store planned in this process
        secrets = secrets or snap.secrets or (prepared.secrets if prepared else None) or engine.generate_secrets()
        program = self.planner.program(spec, engine, secrets)
        stack = snap.stack or self.gateway.create(plan.store, program)
        try:
            if snap.outputs.get("secrets") != secrets:  # already kept: recorded by an earlier apply
                self.gateway.keep_secrets(stack, secrets)
            bound = self.engine_plan(plan, snap, stack, program, secrets, prepared)
        except PlanMismatch:
            if snap.stack is None:
                self.gateway.remove(plan.store)  # refused before anything: leave no stack behind
            raise
        after = {}

        def up(translator) -> None:
            self.planner.fast.forget(plan.store)  # whatever happens next, the old baseline is gone
            try:
                try:
                    after["outputs"] = self.gateway.up(stack, program, refresh=plan.refreshed,
                                                       translator=translator, plan=bound)
                except StorekitError as e:
                    if not access_still_propagating(e, self.planner.settings, spec.namespace):
                        raise
                    # The same program once more, now that the binding is in effect: the first
                    # run did only what the plan showed, the second finishes it.
                    time.sleep(2)
                    after["outputs"] = self.gateway.up(stack, program, refresh=False, translator=translator)
            except OperationTimeout as e:  # say which pods no node could take, and why (storekit.scheduling)
                raise explain(e, lambda: cluster_api(self.planner.settings)[1], spec.namespace,
                              lambda text: scrub(text, translator.secrets)) from e
            finally:
                self.planner.engine_plans.discard(bound)  # good for one update only
            self.planner.fast.remember(spec, engine, translator.states.items())
            wait_rolled_out(self.planner.settings, plan.store, spec.namespace, timeout=60.0)  # storekit.settled
        # The update's own outputs, and "ready" as of now: it just succeeded (no more engine runs).
        return self._run(plan, operation, engine, secrets, emit, spec, up,
                         lambda: self.outputs(Snapshot(plan.store, stack, after["outputs"]), just_applied=True))

    def engine_plan(self, plan: Plan, snap: Snapshot, stack, program, secrets: dict[str, str], prepared=None):
        """The engine's update plan the ``up`` is bound to (``storekit.engineplan``): the one
        saved when ``plan`` was made, or a fresh preview's, refused (``PlanMismatch``) before
        anything changes when it differs from the changes ``plan`` shows."""
        plans = self.planner.engine_plans
        if prepared is not None and prepared.secrets == secrets:
            kept = plans.claim(prepared.engine_plan)
            if kept is not None:
                return kept
        kept = plans.claim(plans.find(plan))
        if kept is not None:
            return kept
        saved = plans.scratch(plan.store)
        try:
            digest = self.gateway.preview(stack, program, refresh=plan.refreshed and snap.exists,
                                          secrets=secrets.values(), save_plan=saved)
            found = differences(plan.changes, changes_from_digest(digest, snap.deployment))
            if found:
                raise PlanMismatch(plan.store, found)
        except BaseException:
            plans.discard(saved)
            raise
        return saved

    def destroy(self, plan: Plan, emit: EventCallback, *, snap: Snapshot | None = None) -> ApplyResult:
        self.refuse_if_busy(plan.store)
        snap = snap or self.gateway.snapshot(plan.store)
        if not snap.exists:
            raise StoreNotFound(plan.store)
        self.check_current(snap, plan)
        self.planner.fast.forget(plan.store)
        engine = registry().get(snap.outputs.get("engine"))  # None: resources are named by kind
        result = self._run(plan, "destroy", engine, snap.secrets or {}, emit, None,
                           lambda translator: self.gateway.destroy(snap.stack, translator=translator),
                           lambda: None)
        self.gateway.remove(plan.store)
        return result

    def _run(self, plan: Plan, operation: str, engine: Engine | None, secrets: dict, emit: EventCallback,
             spec, call: Callable, read_outputs: Callable) -> ApplyResult:
        translator = EventTranslator(plan.store, engine.step_of if engine else _step_by_kind,
                                     secrets.values(), emit)
        emit(OperationStarted(store=plan.store, operation=operation, spec=spec,
                              steps=tuple(engine.step_names) if engine else ()))
        started = time.monotonic()
        try:
            call(translator)
        except StorekitError as error:
            emit(OperationFinished(store=plan.store, operation=operation, ok=False,
                                   seconds=round(time.monotonic() - started, 3), message=error.message))
            raise
        seconds = round(time.monotonic() - started, 3)
        outputs = read_outputs()
        emit(OperationFinished(store=plan.store, operation=operation, ok=True, seconds=seconds, outputs=outputs))
        outcomes = tuple(ResourceOutcome(**{k: o[k] for k in ("resource", "type", "op", "step", "status",
                                                                "seconds")}, message=o.get("message", ""))
                         for o in translator.outcomes.values())
        return ApplyResult(store=plan.store, action=plan.action, seconds=seconds, summary=plan.summary.to_dict(),
                           resources=outcomes, outputs=outputs)

    def outputs(self, snap: Snapshot, *, just_applied: bool = False) -> StoreOutputs:
        out = snap.outputs
        if not snap.exists or not out.get("slug"):
            raise StoreNotFound(snap.slug)
        status, ended = "ready", datetime.now(timezone.utc).replace(microsecond=0)
        if not just_applied:
            last = self.gateway.last_update(snap.stack)
            ended = last.end_time if last else None
            if last is not None and last.result != "succeeded":
                status = "updating" if last.result == "in-progress" else "failed"
        engine = registry().get(out.get("engine"))
        return StoreOutputs(
            name=out.get("name", snap.slug), slug=out["slug"], namespace=out.get("namespace", ""),
            url=out.get("url", ""), admin_url=out.get("admin_url", ""), admin_user=out.get("admin_user", ""),
            engine=out.get("engine", ""), tier=out.get("tier", ""), status=status,
            last_update=ended.isoformat() if ended else None,
            secret_outputs=tuple(key for key in (engine.secret_outputs if engine else ()) if key in out))


def access_still_propagating(error: StorekitError, settings, namespace: str) -> bool:
    """Whether an update failed only because storekit's access to a namespace it had just made
    was not in effect yet. With the chart's least-privilege RBAC (``store_role``), each store
    namespace grants storekit its role by a RoleBinding the program makes first; the API
    server's authorizer learns of a new binding from its own watch, a moment later, and a write
    that lands in between is refused as forbidden for storekit's service account."""
    if not getattr(settings, "store_role", None) or not getattr(settings, "service_account", None):
        return False
    text = str(error)
    account = settings.service_account.partition("/")[2]
    return ("is forbidden: User \"system:serviceaccount:" in text and f":{account}\"" in text
            and f'in the namespace "{namespace}"' in text)


def _step_by_kind(resource_type: str, resource_name: str) -> str:
    return resource_type.rsplit(":", 1)[-1]
