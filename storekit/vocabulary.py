"""The words storekit uses for states and kinds, declared once (cheap to import).

Store statuses are lowercase everywhere: catalog, API, CLI, dashboard. Removing a store
is "destroy" in plans, jobs and the audit trail.
"""

STORE_STATUSES = ("pending", "provisioning", "ready", "failed", "deleting", "deleted")
JOB_KINDS = ("create", "update", "destroy", "restart", "reset-password", "backup", "restore", "clone",
             "rollout-resume", "rollout-rollback")
JOB_STATUSES = ("queued", "running", "succeeded", "failed")
TOKEN_ROLES = ("viewer", "admin")
# One set of audit limits for every edge: a page holds this many entries by default, and at most that many.
AUDIT_DEFAULT_LIMIT = 100
AUDIT_MAX_LIMIT = 1000
# The store list's pages (API ``/api/stores?limit=&offset=``): this many by default, at most that many.
STORE_PAGE_DEFAULT = 100
STORE_PAGE_MAX = 1000
