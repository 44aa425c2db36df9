"""The words storekit uses for states and kinds, declared once (cheap to import).

Store statuses are lowercase everywhere: catalog, API, CLI, dashboard. Removing a store
is "destroy" in plans, jobs and the audit trail.
"""

STORE_STATUSES = ("pending", "provisioning", "ready", "failed", "deleting", "deleted")
JOB_KINDS = ("create", "update", "destroy", "restart", "reset-password")
JOB_STATUSES = ("queued", "running", "succeeded", "failed")
TOKEN_ROLES = ("viewer", "admin")
