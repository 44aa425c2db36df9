"""One error hierarchy for the whole library.

Every error a caller can act on is a ``StorekitError``. Each carries a message a person
can act on (what happened, why, what to do) and chains the original cause with
``raise ... from``. The edges translate them: ``exit_code`` for the CLI, ``http_status``
for the API. Nothing here prints.
"""

from __future__ import annotations

import errno

from .redact import clip, redact_text

MAX_FIELD, MAX_RULE = 80, 240


class StorekitError(Exception):
    """Base of every storekit error."""

    exit_code = 1
    http_status = 500
    kind = "error"

    def __init__(self, message: str, *, hint: str | None = None):
        message = redact_text(message)  # a URL quoted in a message never shows its password
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict:
        return {"error": self.kind, "message": self.message, "hint": self.hint}


class SpecError(StorekitError):
    """A store spec (or other input) breaks one or more rules; ``problems`` names each."""

    exit_code = 7
    http_status = 400
    kind = "invalid_spec"

    def __init__(self, problems: dict[str, str] | list[tuple[str, str]], *, subject: str = "store spec"):
        items = list(problems.items()) if isinstance(problems, dict) else list(problems)
        # An input value quoted in a rule is the caller's: keep it short and printable.
        items = [(clip(str(f), MAX_FIELD), clip(str(r), MAX_RULE)) for f, r in items]
        self.problems = items
        detail = "; ".join(f"{field}: {rule}" for field, rule in items)
        super().__init__(f"invalid {subject}: {detail}")

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["fields"] = [{"field": f, "rule": r} for f, r in self.problems]
        return d


class StoreNotFound(StorekitError):
    exit_code = 3
    http_status = 404
    kind = "not_found"

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"store '{name}' does not exist", hint="List the stores with `storekit list`.")


class StoreBusy(StorekitError):
    """Another update of the same store holds its lock."""

    exit_code = 4
    http_status = 409
    kind = "busy"

    def __init__(self, name: str, *, holder: str | None = None, since: str | None = None):
        self.name, self.holder, self.since = name, holder, since
        who = f" by {holder}" if holder else ""
        when = f" since {since}" if since else ""
        super().__init__(
            f"store '{name}' is being changed{who}{when}",
            hint="Wait for it to finish; if that process died, clear the lock with "
            "`storekit unlock NAME`.",
        )


class StalePlan(StorekitError):
    exit_code = 5
    http_status = 409
    kind = "stale_plan"

    def __init__(self, name: str):
        self.name = name
        super().__init__(
            f"the saved plan for store '{name}' is stale: the store changed since the plan was made",
            hint="Run `storekit plan` again and review the new plan.",
        )


class PlanMismatch(StalePlan):
    """Applying would do something the plan did not show (``storekit.engineplan``): refused
    before the change, or by the engine at the step that departs from its update plan."""

    kind = "plan_mismatch"

    def __init__(self, name: str, differences):
        self.differences = tuple(differences)
        shown = "; ".join(self.differences[:4]) + (f"; and {len(self.differences) - 4} more"
                                                    if len(self.differences) > 4 else "")
        StorekitError.__init__(
            self, f"applying the plan for store '{name}' would do what the plan did not show: {shown}",
            hint="Nothing the plan did not show was changed. Run `storekit plan` again and review the new plan.")
        self.name = name

    def to_dict(self) -> dict:
        return {**super().to_dict(), "differences": list(self.differences)}


class ClusterUnreachable(StorekitError):
    exit_code = 6
    http_status = 503
    kind = "cluster_unreachable"


class ToolMissing(StorekitError):
    """A required executable (pulumi, the kubernetes plugin) is not installed."""

    exit_code = 6
    http_status = 503
    kind = "tool_missing"


class EngineUnavailable(StorekitError):
    exit_code = 7
    http_status = 400
    kind = "engine_unavailable"


class OperationFailed(StorekitError):
    """The engine ran but the update (or destroy) failed; ``details`` holds its output."""

    exit_code = 1
    http_status = 502
    kind = "operation_failed"

    def __init__(self, message: str, *, details: str = "", hint: str | None = None):
        super().__init__(message, hint=hint)
        self.details = redact_text(details)


class OperationTimeout(OperationFailed):
    """An awaited resource did not become ready in time. ``unschedulable`` names the store's
    pods no node could take, each as (pod, reason, the scheduler's message): storekit.scheduling."""

    kind = "timeout"
    UNSCHEDULABLE_HINT = ("No node could take these pods: add nodes or free room on them (a cluster "
                          "autoscaler may be adding one), or check STOREKIT_NODE_POOL, then apply again.")

    def __init__(self, message: str, *, details: str = "", hint: str | None = None, unschedulable=()):
        self.unschedulable = tuple((str(p), str(r), str(m)) for p, r, m in unschedulable)
        if self.unschedulable:
            message += "; " + "; ".join(f"pod {p}: {r}: {m}" for p, r, m in self.unschedulable)
        super().__init__(message, details=details, hint=hint)

    def with_unschedulable(self, unschedulable) -> "OperationTimeout":
        """This timeout, saying which pods could not be scheduled and why."""
        return OperationTimeout(self.message, details=self.details, hint=self.UNSCHEDULABLE_HINT,
                                unschedulable=unschedulable)

    def to_dict(self) -> dict:
        d = super().to_dict()
        if self.unschedulable:
            d["unschedulable"] = [{"pod": p, "reason": r, "message": m} for p, r, m in self.unschedulable]
        return d


class JobFailed(OperationFailed):
    """A Job of the store failed while the engine waited for it; the update was stopped at
    once (storekit.jobwatch) instead of waiting out its timeout."""

    kind = "job_failed"

    def __init__(self, store: str, job: str, reason: str, message: str, pod_message: str = "", *,
                 namespace: str = ""):
        self.store, self.job, self.reason, self.namespace = store, job, reason, namespace
        said = f"; its pod said: {pod_message}" if pod_message else ""
        super().__init__(
            f"store '{store}': the Job {job} failed ({reason}): {message}{said}",
            hint=f"Read its output with `storekit logs {store} {job}`, fix the cause and apply again "
                 "(the update was stopped at once; what it had done is kept).")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "job": {"namespace": self.namespace, "name": self.job, "reason": self.reason}}


class UpgradeRolledBack(OperationFailed):
    """An image upgrade failed its apply or its health check, and the store was put back
    (previous images, data restored from the backup taken first): docs/backups.md."""

    kind = "upgrade_rolled_back"


class EngineInterrupted(OperationFailed):
    """The engine process was killed before it finished (a signal, a lost machine).

    Nothing needs a person: the next run of the operation repairs what it left in the
    store's state (its lock, its pending operations; ``storekit.recovery``) and converges.
    Workers run such a job again by themselves.
    """

    http_status = 503
    kind = "interrupted"


class StorageFull(StorekitError):
    """A disk storekit writes to is full: the state backend's, the catalog's, or the home
    folder's. What was recorded before is intact (every store is written by replacing a
    file, or in a transaction); nothing is retried until there is room again."""

    exit_code = 9
    http_status = 507
    kind = "storage_full"

    def __init__(self, what: str, where: str | None = None):
        self.what, self.where = what, where
        super().__init__(
            f"{what} has no space left on its disk" + (f" (writing {where})" if where else ""),
            hint="Free space there or grow the volume, then run the operation again: what was recorded "
                 "before is intact, and storekit repairs what the interrupted write left.")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "storage": self.what, "path": self.where}


def no_space(error: BaseException) -> bool:
    """Is ``error`` a write that failed for lack of disk space (any layer's wording)?"""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    text = str(error).lower()
    return any(s in text for s in NO_SPACE)


NO_SPACE = ("no space left on device", "database or disk is full", "could not extend file",
            "disk quota exceeded")


class PolicyViolation(StorekitError):
    """A mandatory rule fails: the plan may not be applied."""

    exit_code = 8
    http_status = 403
    kind = "policy_violation"

    def __init__(self, store: str, failures):
        self.store, self.failures = store, tuple(failures)
        names = "; ".join(f"policy '{f.rule}' ({f.type}): {f.message}" for f in failures)
        super().__init__(f"store '{store}' may not be changed: {names}",
                         hint="Change the plan to satisfy the policy, or ask the platform team to change "
                              "STOREKIT_POLICY_FILE.")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "policy": [f.to_dict() for f in self.failures]}


class ApprovalRequired(StorekitError):
    """The two-person rule: this plan (by its hash) has no approval by a second admin, or
    the approval asked for is not allowed (an admin approving their own plan)."""

    exit_code = 8
    http_status = 403
    kind = "approval_required"


class BackupError(StorekitError):
    """A backup, restore or clone could not be done; the store was left as the message says."""

    exit_code = 1
    http_status = 502
    kind = "backup_failed"


class BackupLocationError(BackupError):
    """The backup location cannot be used: a missing bucket, refused credentials, no answer."""

    kind = "backup_location"

    def __init__(self, location: str, why: str):
        self.location = location
        super().__init__(f"backup location {location}: {why}")


class BackupNotFound(BackupError):
    exit_code = 3
    http_status = 404
    kind = "backup_not_found"

    def __init__(self, backup_id: str, location: str):
        self.backup_id, self.location = backup_id, location
        super().__init__(f"no backup '{backup_id}' in {location}",
                         hint="List the backups with `storekit backups NAME`.")


class BackupCorrupt(BackupError):
    """A part of a backup does not match its manifest (size or SHA-256): nothing was restored."""

    http_status = 422
    kind = "backup_corrupt"

    def __init__(self, backup_id: str, detail: str):
        self.backup_id = backup_id
        super().__init__(f"backup '{backup_id}' is corrupt: {detail}; the store was not changed",
                         hint="Restore another backup (`storekit backups NAME` marks the verified ones).")
