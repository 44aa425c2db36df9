"""What the fault suite shares: crash points, killing the engine at one, and the checks that
a store converged (imported as ``faultlib``: pytest puts tests/faults/ on the path).

A crash point is an event of the engine's own stream (``ResourceStarted`` or
``ResourceFinished`` of one resource), so "mid-Deployment" means: the engine has told us
it started creating the mysql Deployment, and the provider is waiting for it.

``converged`` is the definition every fault test ends with:
- the live objects equal the plan: a refreshed plan of the spec has no changes;
- no orphan: every live object carrying the store's label is recorded in its stack
  (after a destroy: no such object at all, and no stack);
- no duplicate stack: the backend has one stack for the store (none after a destroy);
- the catalog agrees: the store's status and tier are what the cluster runs.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import psutil
from lightkube import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import (LimitRange, Namespace, PersistentVolumeClaim, ResourceQuota, Secret,
                                         Service)
from lightkube.resources.networking_v1 import Ingress, NetworkPolicy

from storekit.events import ResourceFinished, ResourceStarted

# Totals of the run, printed at its end (conftest.py).
FIGURES = {"crash points tried": 0, "converged on retry": 0, "left a lock": 0, "left pending operations": 0,
           "left a half-written state file": 0, "orphans": 0, "duplicate stacks": 0, "lost audit entries": 0}

NAMESPACED = (NetworkPolicy, ResourceQuota, LimitRange, Secret, PersistentVolumeClaim, Deployment, Service, Job,
              Ingress)


@dataclass(frozen=True)
class Point:
    """Kill when ``resource`` (a logical name in the stack) reaches ``when`` (started | finished)."""

    resource: str
    when: str = "started"

    def __str__(self) -> str:
        return f"{self.when}:{self.resource}"

    def matches(self, event) -> bool:
        kind = ResourceStarted if self.when == "started" else ResourceFinished
        return type(event) is kind and event.resource == self.resource


# Ten points per operation for the soak; the first of each is in `make test`.
CREATE_POINTS = [Point("mysql"), Point("namespace", "finished"), Point("network-policy"),
                 Point("credentials", "finished"), Point("salts"), Point("mysql-data"),
                 Point("mysql-service"), Point("wordpress"), Point("woocommerce-setup"), Point("ingress")]
UPDATE_POINTS = [Point("mysql"), Point("resource-quota"), Point("resource-quota", "finished"),
                 Point("limit-range"), Point("mysql-data"), Point("mysql-data", "finished"),
                 Point("mysql", "finished"), Point("wordpress-data"), Point("wordpress"),
                 Point("wordpress", "finished")]
DESTROY_POINTS = [Point("namespace"), Point("ingress"), Point("ingress", "finished"), Point("woocommerce-setup"),
                  Point("wordpress-service"), Point("wordpress"), Point("mysql-service"), Point("mysql"),
                  Point("credentials"), Point("resource-quota")]


def _pulumi_children(pid: int) -> list[psutil.Process]:
    return [child for child in psutil.Process(pid).children() if child.name() == "pulumi"]


def kill_tree(process: psutil.Process) -> None:
    """SIGKILL a process and then its children (an engine and its provider plugins), as the
    kernel's OOM killer or a lost machine would."""
    try:
        kids = process.children(recursive=True)
        process.kill()
    except psutil.NoSuchProcess:
        return
    for kid in kids:
        try:
            kid.kill()
        except psutil.NoSuchProcess:
            pass


class EngineKiller:
    """An ``on_event`` callback that SIGKILLs this process's pulumi engine at ``point``."""

    def __init__(self, point: Point):
        self.point = point
        self.killed = threading.Event()
        self.seen: list[str] = []

    def __call__(self, event) -> None:
        if isinstance(event, (ResourceStarted, ResourceFinished)):
            self.seen.append(f"{type(event).__name__}:{event.resource}")
        if self.killed.is_set() or not self.point.matches(event):
            return
        engines = _pulumi_children(os.getpid())
        assert engines, "no pulumi engine runs under this process"
        for engine in engines:
            kill_tree(engine)
        self.killed.set()


def left_behind(kit, slug: str) -> dict:
    """What a crash left in a file:// backend, read from its files (pulumi itself may not be
    able to load the stack before the repair): a lock, pending operations, a half-written
    state file (a ``.attrs`` sidecar that is not JSON)."""
    root = Path(kit.settings.state_url.removeprefix("file://"), ".pulumi")
    stacks = root / "stacks" / "storekit"
    broken = []
    for sidecar in stacks.glob(f"{slug}.json*.attrs"):
        try:
            json.loads(sidecar.read_text() or "x")
        except ValueError:
            broken.append(sidecar.name)
    try:
        latest = json.loads((stacks / f"{slug}.json").read_text())["checkpoint"].get("latest") or {}
    except (OSError, ValueError, KeyError):
        latest = {}
    return {"lock": any((root / "locks" / "organization" / "storekit" / slug).glob("*.json")),
            "pending": len(latest.get("pending_operations") or []), "broken": broken}


# ---- convergence -------------------------------------------------------------------------

def live_objects(kube, slug: str) -> set[tuple[str, str]]:
    """(kind, id) of every live object carrying the store's label (id as the provider gives it)."""
    selector = {"storekit.io/store": slug}
    found = {("Namespace", ns.metadata.name) for ns in kube.list(Namespace, labels=selector)
             if not ns.metadata.deletionTimestamp}
    for kind in NAMESPACED:
        for obj in kube.list(kind, namespace="*", labels=selector):
            if not obj.metadata.deletionTimestamp and not obj.metadata.ownerReferences:
                found.add((kind.__name__, f"{obj.metadata.namespace}/{obj.metadata.name}"))
    return found


def recorded_objects(deployment: dict | None) -> set[tuple[str, str]]:
    return {(r["type"].rsplit(":", 1)[-1], r["id"]) for r in (deployment or {}).get("resources") or []
            if r["type"].startswith("kubernetes:") and r.get("id")}


def stacks_named(kit, slug: str) -> int:
    return sum(1 for s in kit.gateway.list() if s.name == slug)


def assert_converged(kit, kube, spec) -> None:
    """The store runs ``spec`` exactly: see the module's docstring."""
    plan = kit.plan(spec)
    assert not plan.has_changes, f"live differs from the plan: {plan.summary.text}"
    snap = kit.gateway.snapshot(spec.slug)
    assert not (snap.deployment or {}).get("pending_operations"), "pending operations are left"
    orphans = live_objects(kube, spec.slug) - recorded_objects(snap.deployment)
    assert not orphans, f"objects with the store's label that no stack owns: {sorted(orphans)}"
    assert stacks_named(kit, spec.slug) == 1, "exactly one stack for the store"
    record = kit.catalog.store(spec.slug)
    assert record is not None and record.status == "ready", record
    assert record.tier == spec.tier, (record.tier, spec.tier)


def assert_gone(kit, kube, slug: str) -> None:
    """Destroyed: no object with the store's label, no stack, the catalog says deleted."""
    left = live_objects(kube, slug)
    assert not left, f"objects left after destroy: {sorted(left)}"
    try:
        kube.get(Namespace, f"store-{slug}")
        raise AssertionError("the store's namespace is still there")
    except ApiError as e:
        assert e.status.code == 404
    assert stacks_named(kit, slug) == 0, "the stack is removed"
    record = kit.catalog.store(slug)
    assert record is None or record.status == "deleted", record
