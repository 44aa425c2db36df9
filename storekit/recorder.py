"""The catalog as a subscriber: store status, timeline and audit trail follow from events.

Operations (``applying``, ``kit``) emit events and write nothing to the catalog
themselves. ``CatalogRecorder`` turns the events into rows:

- ``OperationStarted``: the operation's first timeline line; for an apply, the store's row
  (spec, ``provisioning``), for a destroy ``deleting``;
- ``ResourceStarted``/``Finished``/``Failed``: a timeline line per resource, under its
  engine step;
- ``OperationFinished``: the last line (``Ready``, ``Deleted``, ``Restarted``, or
  ``Failed``) and the store's status, URL and dates;
- ``Recovered``: a timeline line saying what an interrupted run left and how it was repaired;
- ``StoreInSync``: a store the catalog did not know yet is recorded as ``ready``;
- ``Audited``: one audit entry.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .events import (Audited, Event, OperationFinished, OperationStarted, Recovered, ResourceFailed,
                     ResourceFinished, ResourceStarted, StoreInSync)

if TYPE_CHECKING:  # the catalog (peewee) loads when the first event is recorded
    from .catalog import Catalog

# The timeline's first and last line of each operation.
START_STEP = {"apply": "Apply", "destroy": "Destroy", "restart": "Restart", "reset-password": "Password reset",
              "backup": "Backup", "restore": "Restore"}
DONE_STEP = {"apply": "Ready", "destroy": "Deleted", "restart": "Restarted", "reset-password": "Ready",
             "backup": "Backed up", "restore": "Restored"}


@dataclass(frozen=True)
class Actor:
    """Who does something, for the audit trail: a user, the front end, a client IP."""

    name: str
    source: str = "library"  # library | cli | web | api | worker
    ip: str | None = None


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class CatalogRecorder:
    """Writes the catalog from events. ``catalog`` is a callable, so the catalog opens
    only when the first event arrives."""

    def __init__(self, catalog: Callable[[], Catalog]):
        self._catalog = catalog

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(self._catalog(), event)

    @staticmethod
    def _on_OperationStarted(catalog: Catalog, e: OperationStarted) -> None:
        if e.operation in ("apply", "reset-password") and e.spec is not None:
            record = catalog.store(e.store)
            first_time = record is None or record.provisioned_at is None or record.status == "deleted"
            catalog.upsert_store(e.spec, status="provisioning", error_message=None,
                                 **({"created_at": _utcnow(), "provisioned_at": None} if first_time else {}))
        elif e.operation == "destroy":
            catalog.set_status(e.store, "deleting")
        catalog.add_event(e.store, START_STEP.get(e.operation, e.operation), "started",
                          message=" → ".join(e.steps) or None)

    @staticmethod
    def _on_ResourceStarted(catalog: Catalog, e: ResourceStarted) -> None:
        catalog.add_event(e.store, e.step, "started", resource=e.resource,
                          message=f"{e.op} {e.type.rsplit(':', 1)[-1]}")

    @staticmethod
    def _on_ResourceFinished(catalog: Catalog, e: ResourceFinished) -> None:
        catalog.add_event(e.store, e.step, "finished", resource=e.resource,
                          message=f"{e.op} {e.type.rsplit(':', 1)[-1]}", seconds=e.seconds)

    @staticmethod
    def _on_ResourceFailed(catalog: Catalog, e: ResourceFailed) -> None:
        catalog.add_event(e.store, e.step, "failed", resource=e.resource, message=e.message, seconds=e.seconds)

    @staticmethod
    def _on_OperationFinished(catalog: Catalog, e: OperationFinished) -> None:
        step = DONE_STEP.get(e.operation, e.operation) if e.ok else "Failed"
        catalog.add_event(e.store, step, "finished" if e.ok else "failed", message=e.message or None,
                          seconds=e.seconds)
        if e.operation not in ("apply", "destroy", "reset-password"):
            return  # a restart changes no status
        if not e.ok:
            catalog.set_status(e.store, "failed", error_message=e.message)
        elif e.operation == "destroy":
            catalog.set_status(e.store, "deleted")
        else:
            record = catalog.store(e.store)
            out = e.outputs
            first = record is not None and record.provisioned_at is None
            catalog.set_status(e.store, "ready", error_message=None, url=out.url if out else None,
                               admin_url=out.admin_url if out else None,
                               **({"provisioned_at": _utcnow()} if first else {}))

    @staticmethod
    def _on_Recovered(catalog: Catalog, e: Recovered) -> None:
        catalog.add_event(e.store, "Recovered", "finished", message=e.message)

    @staticmethod
    def _on_StoreInSync(catalog: Catalog, e: StoreInSync) -> None:
        if catalog.store(e.store) is None and e.spec is not None:
            out = e.outputs
            catalog.upsert_store(e.spec, status="ready", url=out.url if out else None,
                                 admin_url=out.admin_url if out else None, provisioned_at=_utcnow())

    @staticmethod
    def _on_Audited(catalog: Catalog, e: Audited) -> None:
        catalog.audit(e.action, resource_id=e.store, resource_name=e.name, actor=e.actor, source=e.source,
                      ip_address=e.ip, outcome=e.outcome, details=e.details)


def _utcnow():
    from .catalog import utcnow

    return utcnow()
