"""The one service layer both edges use: what the CLI and the dashboard/API do, written once.

- **Stores** come from one source, the catalog (``stores``, ``store``); a store's desired
  spec comes from one source too (``desired_spec``: the catalog row, or the recorded
  stack for a store the catalog has not seen yet, which it then records).
- **Audit** queries have one set of limits (``AUDIT_DEFAULT_LIMIT``, ``AUDIT_MAX_LIMIT``).
- **Jobs**: create, update, destroy, restart and reset-password are jobs with timeline
  entries. The web queues them for workers (``submit``); the CLI runs its job at once in
  its own process (``run_now``), so both leave the same record.
- **Plans shown, plans applied**: ``preview`` saves the plan it returns under an id;
  ``apply_previewed`` queues exactly that plan, after checking its fingerprint against the
  store's recorded state. A stale one raises ``StalePreview`` (409) carrying a fresh preview.
- **Tokens**: made and checked by ``storekit.tokens``; ``tokens()`` lists them.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, replace

from .catalog import AuditRecord, JobRecord, StoreRecord, TokenRecord, parse_since
from . import approvals
from .errors import ApprovalRequired, SpecError, StalePlan, StoreNotFound, StorekitError
from .fleet import FleetPlan, parse_fleet
from .jobs import run_job
from .kit import Storekit
from .plan import Plan
from .recorder import Actor
from .redact import clip
from .spec import StoreSpec, slugify
from .timeline import Timeline, build_timeline
from .engines import tier_names
from .vocabulary import AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, STORE_PAGE_DEFAULT, STORE_PAGE_MAX, STORE_STATUSES

NEW_STORE_FIELDS = ("name", "admin_email", "email", "engine", "tier")
CHANGEABLE_FIELDS = ("tier",)
FLEET_MAX_STORES = 200  # stores one fleet plan request may list (each runs the engine)


class Conflict(StorekitError):
    http_status = 409
    exit_code = 4
    kind = "conflict"


class RolloutNotFound(StorekitError):
    http_status = 404
    exit_code = 3
    kind = "not_found"


class QuotaExceeded(StorekitError):
    http_status = 429
    kind = "max_stores"


@dataclass(frozen=True)
class Preview:
    """A plan as shown to someone, saved so that exactly it can be applied."""

    id: str
    plan: Plan

    def to_dict(self) -> dict:
        return {**self.plan.to_dict(), "plan_id": self.id}


class StalePreview(StalePlan):
    """The store changed since the plan was shown; ``preview`` is a fresh one."""

    def __init__(self, name: str, preview: Preview):
        super().__init__(name)
        self.preview = preview
        self.hint = "Review the fresh plan and apply it instead."

    def to_dict(self) -> dict:
        return {**super().to_dict(), "plan": self.preview.to_dict()}


class StoreService:
    def __init__(self, kit: Storekit):
        self.kit = kit

    @property
    def catalog(self):
        return self.kit.catalog

    # ---- reading -----------------------------------------------------------------

    def stores(self) -> list[StoreRecord]:
        """Every store that is not deleted: the one list both edges show."""
        return self.catalog.stores()

    def store_page(self, *, q: str | None = None, status: str | None = None, tier: str | None = None,
                   limit: int = STORE_PAGE_DEFAULT, offset: int = 0) -> tuple[list[StoreRecord], int]:
        """A page of ``stores()``, searched (name or slug) and filtered by status and tier;
        with the number that match."""
        problems = []
        if status is not None and status not in STORE_STATUSES:
            problems.append(("status", f"must be one of {', '.join(STORE_STATUSES)}"))
        if tier is not None and tier not in tier_names():
            problems.append(("tier", f"must be one of {', '.join(tier_names())}"))
        if problems:
            raise SpecError(problems, subject="store filter")
        return self.catalog.store_page(q=q, status=status, tier=tier, limit=limit, offset=offset)

    def store(self, name: str, *, deleted: bool = False) -> StoreRecord:
        """A store by name or slug; a deleted one only with ``deleted`` (its history stays)."""
        record = self.catalog.store(slugify(name) or name)
        if record is None or (record.status == "deleted" and not deleted):
            raise StoreNotFound(name)
        return record

    def desired_spec(self, name: str) -> StoreSpec:
        """The spec a store should have: the catalog's; for a store made before this catalog
        knew it, the recorded one (then kept in the catalog)."""
        record = self.catalog.store(slugify(name) or name)
        if record is not None and record.status != "deleted" and record.spec:
            return StoreSpec.from_dict(record.spec)
        spec = self.kit.spec_of(name)  # StoreNotFound when the backend has no such store either
        outputs = self.kit.outputs(name)
        self.catalog.upsert_store(spec, status="ready", url=outputs.url, admin_url=outputs.admin_url)
        return spec

    def timeline(self, name: str) -> Timeline:
        record = self.store(name, deleted=True)
        return build_timeline(record.slug, record.status, self.catalog.events(record.slug))

    def audit(self, *, store: str | None = None, action: str | None = None, since: str | None = None,
              limit: int | None = None) -> list[AuditRecord]:
        limit = AUDIT_DEFAULT_LIMIT if limit is None else limit
        if not isinstance(limit, int) or not 1 <= limit <= AUDIT_MAX_LIMIT:
            raise SpecError([("limit", f"must be a whole number from 1 to {AUDIT_MAX_LIMIT}")], subject="audit filter")
        return self.catalog.audit_entries(store=slugify(store) or store if store else None, action=action or None,
                                          since=parse_since(since), limit=limit)

    def job(self, job_id: int) -> JobRecord | None:
        return self.catalog.jobs.get(job_id)

    def jobs(self, name: str) -> list[JobRecord]:
        return self.catalog.jobs.for_store(slugify(name) or name)

    def queue(self) -> dict:
        return self.catalog.jobs.counts()

    def tokens(self) -> list[TokenRecord]:
        return self.catalog.tokens.all()

    def plan_fleet(self, text: str, *, prune: bool = False, max_stores: int = FLEET_MAX_STORES) -> FleetPlan:
        """Plan a fleet file's text (pasted in the dashboard, posted to the API), grouped by
        identical change; at most ``max_stores`` stores per request (each runs the engine)."""
        if not isinstance(text, str) or not text.strip():
            raise SpecError([("fleet", "must be a fleet file's YAML text (a 'stores' list)")], subject="fleet file")
        specs = parse_fleet(text, "fleet")
        if len(specs) > max_stores:
            raise SpecError([("stores", f"may list at most {max_stores} stores per request (got {len(specs)})")],
                            subject="fleet file")
        return self.kit.plan_fleet(specs, prune=prune)

    # ---- jobs ------------------------------------------------------------------

    def submit(self, kind: str, slug: str, actor: Actor, payload: dict | None = None, *,
               details: dict | None = None) -> JobRecord:
        """Queue a job for the workers, and audit the request.

        A request identical to a job of the store still waiting in the queue joins that job
        (its audit entry says so): a burst of the same change runs once, not once per click.
        """
        job = self.catalog.jobs.queued_like(kind, slug, payload)
        joined = job is not None
        if job is None:
            job = self.catalog.jobs.enqueue(kind, slug, actor=actor.name, source=actor.source,
                                            ip_address=actor.ip, payload=payload)
        record = self.catalog.store(slug)
        self.catalog.audit(f"{kind}-requested", resource_id=slug, resource_name=record.name if record else None,
                           actor=actor.name, source=actor.source, ip_address=actor.ip,
                           details={"job": job.id, **({"joined": True} if joined else {}), **(details or {})})
        return job

    def run_now(self, kind: str, slug: str, actor: Actor, payload: dict | None = None):
        """Run a job in this process (the CLI), recorded like a worker's; its result."""
        job = self.catalog.jobs.enqueue(kind, slug, actor=actor.name, source=actor.source, ip_address=actor.ip,
                                        payload=payload, status="running",
                                        worker=f"{socket.gethostname()}:{os.getpid()}/{actor.source}")
        return run_job(self.kit, job, actor)

    # ---- changes ---------------------------------------------------------------

    def create(self, data: dict, actor: Actor, *, max_stores: int) -> tuple[StoreRecord, JobRecord]:
        """Validate a new store (every bad field at once), record it, queue its creation."""
        if not isinstance(data, dict):
            raise SpecError([("body", "must be a JSON object with name and admin_email")])
        unknown = sorted(set(data) - set(NEW_STORE_FIELDS))
        if unknown:
            raise SpecError([(clip(k, 40), "is not a field of a new store") for k in unknown])
        spec, _ = self.kit.resolve(StoreSpec.from_dict(data))
        existing = self.catalog.store(spec.slug)
        if existing is not None and existing.status != "deleted":
            raise Conflict(f"a store named '{existing.name}' already uses the slug '{spec.slug}'",
                           hint="Choose another name.")
        if self.catalog.count_stores() >= max_stores:
            raise QuotaExceeded(f"the platform already has {max_stores} stores (MAX_STORES)",
                                hint="Delete a store or raise STOREKIT_WEB_MAX_STORES.")
        self.kit.governance.precheck(spec, "create")  # a mandatory policy refuses now (403), not in the job
        store = self.catalog.upsert_store(spec, status="pending", error_message=None, provisioned_at=None)
        job = self.submit("create", spec.slug, actor, {"spec": spec.to_dict()}, details={"tier": spec.tier})
        return store, job

    def changed_spec(self, name: str, changes: dict) -> StoreSpec:
        if not isinstance(changes, dict) or not changes or set(changes) - set(CHANGEABLE_FIELDS):
            raise SpecError([("body", f"may change only: {', '.join(CHANGEABLE_FIELDS)}")])
        spec = self.desired_spec(name).with_changes(**changes)
        return self.kit.resolve(spec)[0]

    def change(self, name: str, changes: dict, actor: Actor) -> JobRecord:
        """Queue a change planned afresh by the worker (the API's PATCH with fields)."""
        record = self.store(name)
        spec = self.changed_spec(record.slug, changes)
        self.kit.governance.precheck(spec, "update", before_tier=record.tier)
        return self.submit("update", record.slug, actor, {"spec": spec.to_dict()}, details={"tier": spec.tier})

    def preview(self, name: str, changes: dict) -> Preview:
        """Plan a change and keep the plan, so that exactly it can be applied."""
        record = self.store(name)
        plan = self.kit.plan(self.changed_spec(record.slug, changes))
        return Preview(id=self.catalog.plans.save(record.slug, plan.to_dict()), plan=plan)

    def apply_previewed(self, name: str, plan_id: str, actor: Actor) -> JobRecord:
        """Queue exactly the plan shown as ``plan_id``; refuse it when the store changed since."""
        record = self.store(name)
        saved = self.catalog.plans.get(plan_id) if isinstance(plan_id, str) else None
        if saved is None or saved[0] != record.slug:
            raise SpecError([("plan_id", "is not a plan of this store (preview the change again)")])
        plan = Plan.from_dict(saved[1])
        self.kit.governance.check(plan)  # 403 naming the rule, from the plan's content
        if self.kit.settings.two_person and self.catalog.approvals.approved_for(plan.hash) is None:
            approvals.submit(self.kit, plan, actor, plan_id)
            raise ApprovalRequired(f"plan {plan_id} is submitted for approval: a different admin must approve it "
                                   "before it is applied (two-person rule)",
                                   hint=f"Approve it on the store's Changes tab, with POST /api/plans/{plan_id}/approve "
                                        f"or `storekit approve {plan_id}`; then apply it again.")
        if self.kit.gateway.fingerprint(record.slug) != plan.fingerprint:
            fresh = self.preview(record.slug, {"tier": plan.spec.tier} if plan.spec else {})
            raise StalePreview(record.slug, fresh)
        return self.submit("update", record.slug, actor, {"plan": saved[1]},
                           details={"plan": plan_id, "tier": plan.spec.tier if plan.spec else None,
                                    "summary": plan.summary.text})

    def saved_plan(self, plan_id: str) -> dict:
        """A saved plan as shown, with its approval (None when not submitted)."""
        slug, plan = approvals.saved_plan(self.kit, plan_id)
        approval = self.catalog.approvals.get(plan_id)
        return {**plan.to_dict(), "plan_id": plan_id, "approval": approval.to_dict() if approval else None}

    def approve(self, plan_id: str, actor: Actor):
        """Approve a submitted plan as a different admin (two-person rule)."""
        return approvals.approve(self.kit, plan_id, actor)

    # ---- drift ---------------------------------------------------------------------

    def revert_drift(self, name: str, actor: Actor) -> JobRecord:
        """Queue applying the desired spec again (audited drift-revert)."""
        record = self.store(name)
        with self.kit.audited("drift-revert", record.slug, record.name, actor, {}):
            spec = self.desired_spec(record.slug)
            return self.submit("update", record.slug, actor, {"spec": spec.to_dict()}, details={"drift": "revert"})

    def accept_drift_preview(self, name: str) -> Preview:
        """The plan that takes the live size into the spec, saved so that exactly it is applied."""
        from .driftwatch import accept_plan

        record = self.store(name)
        plan = accept_plan(self.kit, record.slug)
        return Preview(id=self.catalog.plans.save(record.slug, plan.to_dict()), plan=plan)

    def accept_drift(self, name: str, plan_id: str, actor: Actor) -> JobRecord:
        """Queue an accept preview's plan (audited drift-accept)."""
        record = self.store(name)
        with self.kit.audited("drift-accept", record.slug, record.name, actor, {"plan": plan_id}):
            return self.apply_previewed(record.slug, plan_id, actor)

    def accept_drift_now(self, name: str, plan_id: str | None, actor: Actor):
        """Without ``plan_id``: the accept plan, shown first (a ``Preview``); with it: exactly
        that plan queued (a job)."""
        if plan_id is None:
            return self.accept_drift_preview(name)
        return self.accept_drift(name, plan_id, actor)

    # ---- rollouts --------------------------------------------------------------------

    def _rollout(self, rollout_id: int):
        record = self.catalog.rollouts.get(rollout_id)
        if record is None:
            raise RolloutNotFound(f"no rollout {rollout_id}", hint="`storekit rollout list` lists them.")
        return record

    def resume_rollout(self, rollout_id: int, actor: Actor) -> JobRecord:
        """Queue resuming a halted rollout (the workers run it: job rollout-resume)."""
        record = self._rollout(rollout_id)
        if record.status != "halted":
            raise Conflict(f"rollout {rollout_id} is {record.status}; only a halted rollout resumes")
        return self.submit("rollout-resume", f"rollout-{rollout_id}", actor, {"rollout": rollout_id},
                           details={"rollout": rollout_id})

    def rollback_rollout(self, rollout_id: int, actor: Actor, *, all_waves: bool = False) -> JobRecord:
        """Queue rolling back the latest applied wave of a rollout (every one with ``all_waves``)."""
        record = self._rollout(rollout_id)
        if record.status == "running":
            raise Conflict(f"rollout {rollout_id} is running; it can be rolled back once it halts or is done")
        if not any(w.get("status") in ("passed", "failed") for w in record.waves):
            raise Conflict(f"rollout {rollout_id} has no applied wave to roll back")
        return self.submit("rollout-rollback", f"rollout-{rollout_id}", actor,
                           {"rollout": rollout_id, "all": bool(all_waves)},
                           details={"rollout": rollout_id, "all": bool(all_waves)})

    def destroy(self, name: str, actor: Actor) -> JobRecord:
        record = self.store(name)
        self.catalog.set_status(record.slug, "deleting")
        return self.submit("destroy", record.slug, actor)

    def restart(self, name: str, component: str, actor: Actor, *, now: bool = False):
        """Queue a restart (a job), or with ``now`` run it here and return its result."""
        slug = slugify(name) or name
        if not now:
            self.store(name)
            return self.submit("restart", slug, actor, {"component": component}, details={"component": component})
        return self.run_now("restart", slug, actor, {"component": component})

    def reset_password(self, name: str, actor: Actor, *, now: bool = False):
        """Queue a password reset (a job; the new password is read with ``reveal_password``),
        or with ``now`` run it here and return the new password."""
        slug = slugify(name) or name
        if not now:
            self.store(name)
            return self.submit("reset-password", slug, actor)
        return self.run_now("reset-password", slug, actor)

    def backup(self, name: str, actor: Actor, *, location: str | None = None, now: bool = False):
        """Queue a backup (a job), or with ``now`` run it here and return its BackupInfo."""
        slug = slugify(name) or name
        payload = {"location": location} if location else {}
        if not now:
            self.store(name)
            return self.submit("backup", slug, actor, payload)
        return self.run_now("backup", slug, actor, payload)

    def restore(self, name: str, backup_id: str, actor: Actor, *, location: str | None = None, now: bool = False):
        """Queue a restore of ``backup_id`` (a job), or with ``now`` run it here; its RestoreResult."""
        slug = slugify(name) or name
        payload = {"backup": backup_id, **({"location": location} if location else {})}
        if not now:
            self.store(name)
            return self.submit("restore", slug, actor, payload, details={"backup": backup_id})
        return self.run_now("restore", slug, actor, payload)

    def clone(self, source: str, name: str, actor: Actor, *, backup: str | None = None,
              location: str | None = None, now: bool = False):
        """Queue a clone of ``source`` as the new store ``name`` (a job of the new store), or with
        ``now`` run it here; its CloneResult."""
        slug = slugify(name) or name
        payload = {"source": slugify(source) or source, "name": name,
                   **({"backup": backup} if backup else {}), **({"location": location} if location else {})}
        if not now:
            spec, _ = self.kit.resolve(replace(self.desired_spec(source), name=name, expires_at=None))
            existing = self.catalog.store(spec.slug)
            if existing is not None and existing.status != "deleted":
                raise Conflict(f"a store named '{existing.name}' already uses the slug '{spec.slug}'",
                               hint="Choose another name.")
            self.catalog.upsert_store(spec, status="pending", error_message=None, provisioned_at=None)
            return self.submit("clone", spec.slug, actor, payload, details={"source": payload["source"]})
        return self.run_now("clone", slug, actor, payload)

    def reveal_password(self, name: str, actor: Actor) -> str:
        """The store's admin password, shown on an explicit request (audited)."""
        slug = slugify(name) or name
        with self.kit.audited("reveal-password", slug, name, actor, {}):
            return self.kit.reveal_admin_password(name)
