"""Governance of every plan: policy results and the capacity preview, attached when a plan
is made and checked again, from the plan's content, when it is applied.

``review(plans)`` reads the cluster once (nodes' allocatable, what store quotas reserve),
computes each plan's capacity delta and the whole set's, and evaluates the policy file's
rules with a context that sees the whole set (a fleet's stores per owner, the fleet's
capacity). ``enforce(plans)`` does the same and raises ``PolicyViolation`` naming every
mandatory rule that fails: a plan file edited by hand to say "passed" changes nothing,
because its recorded results are never read.

``precheck(spec, action, before)`` evaluates the rules a spec alone can answer (tier cap,
images, stores per owner, change window, capacity) before a job is queued, so the API
can refuse with 403 at once instead of failing the job later.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

from .capacity import CapacityPreview, plan_delta, read_cluster, total
from .errors import StorekitError
from .plan import Plan, ResourceChange, SpecChange
from .policy import Policy, PolicyContext, PolicyViolation, blocking, load_policy
from .settings import Settings


class Governance:
    def __init__(self, settings: Settings, catalog: Callable, kube: Callable):
        self.settings, self._catalog, self._kube = settings, catalog, kube

    def policy(self) -> Policy:
        return load_policy(self.settings.policy_file)

    # ---- context ------------------------------------------------------------------

    def _stores(self) -> list:
        try:
            return self._catalog().stores()
        except StorekitError:
            return []

    def _recorded_tier(self, stores: list) -> Callable[[str], tuple[str, str] | None]:
        by_slug = {s.slug: (s.engine, s.tier) for s in stores}
        return by_slug.get

    def cluster(self):
        """(allocatable, reserved, storage known), or (None, None, False) when the cluster
        cannot be read: the preview then says the capacity is unknown."""
        import httpx2 as httpx  # lightkube's HTTP client
        from lightkube.core.exceptions import ApiError

        try:
            return read_cluster(self._kube(), storage_class=self.settings.storage_class,
                                node_pool=getattr(self.settings, "node_pool", None))
        except (StorekitError, ApiError, httpx.HTTPError, OSError):  # unreachable, or no right to read nodes
            return None, None, False

    @staticmethod
    def owners_after(stores: list, plans: Sequence[Plan]) -> dict[str, int]:
        """How many stores each owner (admin email) has once ``plans`` are applied."""
        planned = {p.store for p in plans}
        counts: dict[str, int] = {}
        for s in stores:
            if s.slug not in planned:
                counts[s.admin_email.lower()] = counts.get(s.admin_email.lower(), 0) + 1
        for p in plans:
            if p.action != "destroy" and p.spec is not None:
                owner = p.spec.admin_email.lower()
                counts[owner] = counts.get(owner, 0) + 1
        return counts

    # ---- review and enforce -----------------------------------------------------------

    def review(self, plans: Sequence[Plan]) -> tuple[tuple[Plan, ...], CapacityPreview]:
        """``plans`` with their policy results and capacity preview; the set's capacity."""
        policy = self.policy()
        # The catalog is read only when something needs it (a destroy's tier, stores per owner).
        needs_catalog = any(p.action == "destroy" for p in plans) or any(
            r["type"] == "max_stores_per_owner" for r in policy.rules)
        stores = self._stores() if needs_catalog else []
        tier_of = self._recorded_tier(stores)
        deltas = [plan_delta(p, tier_of) for p in plans]
        # Only a plan that asks for more needs the cluster's figures (a no-op plan stays cheap).
        asks = any(getattr(d, r) > 0 for d in deltas for r in ("cpu", "memory", "storage"))
        allocatable, reserved, storage_known = self.cluster() if asks else (None, None, False)
        whole = CapacityPreview(total(deltas), allocatable, reserved, storage_known)
        owners = self.owners_after(stores, plans)
        out = []
        for plan, delta in zip(plans, deltas):
            own = CapacityPreview(delta, allocatable, reserved, storage_known)
            ctx = PolicyContext(stores_per_owner=owners, capacity=whole if len(plans) > 1 else own)
            out.append(replace(plan, capacity=own, policy=policy.evaluate(plan, ctx)))
        return tuple(out), whole

    def enforce(self, plans: Sequence[Plan]) -> dict[str, PolicyViolation]:
        """Evaluate ``plans`` afresh; the violation of each store a mandatory rule blocks."""
        if not self.policy().rules:
            return {}
        reviewed, _ = self.review([replace(p, policy=(), capacity=None) for p in plans])
        return {p.store: PolicyViolation(p.store, blocking(p.policy)) for p in reviewed if p.blocked}

    def check(self, plan: Plan) -> None:
        """Raise ``PolicyViolation`` when a mandatory rule blocks ``plan``."""
        violation = self.enforce([plan]).get(plan.store)
        if violation is not None:
            raise violation

    def precheck(self, spec, action: str, before_tier: str | None = None) -> None:
        """The rules a spec alone can answer, before a job is queued (403 at once)."""
        policy = self.policy()
        if not policy.rules:
            return
        changes = (ResourceChange(name="(planned by the worker)", type="kubernetes:(pending)", op="update"),)
        spec_changes = (SpecChange("tier", before_tier, spec.tier),) if before_tier and before_tier != spec.tier else ()
        plan = Plan(store=spec.slug, action=action, spec=spec, changes=changes, fingerprint="absent",
                    state_url=self.settings.state_url, spec_changes=spec_changes)
        spec_only = Policy(rules=tuple(r for r in policy.rules if r["type"] != "required_objects"),
                           source=policy.source)
        stores = self._stores()
        delta = plan_delta(plan, self._recorded_tier(stores))
        ctx = PolicyContext(stores_per_owner=self.owners_after(stores, [plan]),
                            capacity=CapacityPreview(delta, *self.cluster()))
        failures = blocking(spec_only.evaluate(plan, ctx))
        if failures:
            raise PolicyViolation(spec.slug, failures)
