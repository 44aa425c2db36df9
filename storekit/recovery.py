"""Crash recovery: what an interrupted engine run leaves in a stack, and how it is repaired.

A pulumi engine killed in the middle of an update (SIGKILL, a lost machine, an OOM kill)
leaves two things behind in the store's recorded state:

- its **lock**, naming a process that no longer runs; every later update of the stack
  fails with ``ConcurrentUpdateError`` until it is cancelled;
- **pending operations**: the creates, updates and deletes it had started and not seen
  finish. Pulumi drops pending updates and deletes at the next update, but keeps pending
  creates forever (they "require user intervention"), so an object created in the cluster
  but not recorded is never deleted by a later destroy: it would be an orphan.

``resolve_pending`` repairs the second without a person, the way ``pulumi refresh
--import-pending-creates`` would if it could be told the IDs: every pending create of a
Kubernetes object becomes a recorded resource with the ID the provider gives such an
object (``namespace/name``), and the refresh that follows reads each one live: objects
that exist are adopted with their live state, objects never made are dropped. Other
pending operations are dropped: the refresh reads what those resources are now.

A third leftover is particular to the ``file://`` backend: the blob library writes a
state file's ``.attrs`` sidecar in place (create, then encode) before it renames the new
state over the old, so an engine killed in between leaves an empty sidecar, and every later
command on the stack fails with "failed to load checkpoint: EOF". ``repair_file_state``
removes a sidecar that is not valid JSON (a missing one means default attributes) and the
temporary files of the interrupted write. A disk that filled up while the engine took the
stack's lock leaves an empty temporary lock file (``repair_lock_files``), with the same
effect ("unexpected end of JSON input").

The gateway (``StackGateway.snapshot(repair=True)``) runs these before every plan and
destroy, so a crash at any point converges at the next run.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

# Kinds with no namespace: their provider ID is the bare name.
CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PersistentVolume",
                            "CustomResourceDefinition", "IngressClass", "PriorityClass", "Node",
                            "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"})


@dataclass(frozen=True)
class Repair:
    """What a repair found and did, for the timeline and the logs."""

    store: str
    lock_cleared: str | None = None  # the dead holder whose lock was cleared
    adopted: tuple[str, ...] = ()  # pending creates turned into resources (then refreshed)
    dropped: tuple[str, ...] = ()  # pending operations dropped ("update wordpress", ...)
    refreshed: bool = False
    files: tuple[str, ...] = ()  # half-written state files removed (file:// backends)

    @property
    def did_anything(self) -> bool:
        return bool(self.lock_cleared or self.adopted or self.dropped or self.files)

    @property
    def text(self) -> str:
        parts = []
        if self.lock_cleared:
            parts.append(f"cleared the lock of {self.lock_cleared}, which no longer runs")
        if self.adopted:
            parts.append(f"adopted interrupted creates: {', '.join(self.adopted)}")
        if self.dropped:
            parts.append(f"re-read interrupted operations: {', '.join(self.dropped)}")
        if self.files:
            parts.append(f"removed half-written state files: {', '.join(self.files)}")
        return "; ".join(parts) or "nothing to repair"


@dataclass
class PendingResolution:
    deployment: dict
    adopted: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def pending_operations(deployment: dict | None) -> list[dict]:
    return list((deployment or {}).get("pending_operations") or [])


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def kube_id(resource: dict) -> str | None:
    """The ID pulumi-kubernetes gives the object ``resource`` describes, or None when it is
    not a Kubernetes object (the stack, a provider) or its name is unknown."""
    rtype = resource.get("type") or ""
    if not rtype.startswith("kubernetes:") or rtype.startswith("kubernetes:helm") or \
            rtype.startswith("kubernetes:yaml"):
        return None
    metadata = (resource.get("inputs") or {}).get("metadata") or {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        return None
    kind = rtype.rsplit(":", 1)[-1]
    if kind in CLUSTER_SCOPED:
        return name
    namespace = metadata.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        namespace = "default"
    return f"{namespace}/{name}"


def resolve_pending(deployment: dict) -> PendingResolution:
    """A copy of ``deployment`` with no pending operations: each pending create of a
    Kubernetes object recorded as a resource with its provider ID (to be refreshed), every
    other pending operation dropped."""
    out = copy.deepcopy(deployment)
    result = PendingResolution(deployment=out)
    resources = out.setdefault("resources", []) or []
    out["resources"] = resources
    recorded = {r.get("urn") for r in resources}
    for op in pending_operations(deployment):
        resource = copy.deepcopy(op.get("resource") or {})
        urn, kind = resource.get("urn", "?"), op.get("type", "?")
        object_id = kube_id(resource) if kind == "creating" else None
        if object_id and urn not in recorded:
            resource["id"] = object_id
            resource.setdefault("outputs", copy.deepcopy(resource.get("inputs") or {}))
            resource.setdefault("custom", True)
            resources.append(resource)  # its dependencies were created before it started
            recorded.add(urn)
            result.adopted.append(_name(urn))
        else:
            result.dropped.append(f"{kind} {_name(urn)}")
    out["pending_operations"] = []
    return result


def adopt_field_managers(deployment: dict, names: list[str] | tuple[str, ...]) -> tuple[dict, list[str]]:
    """After the refresh that read adopted objects: give each the server-side-apply field
    manager that created it. The provider names a manager per object at create time
    (``pulumi-kubernetes-<random>``) and keeps it in the state (``__fieldManager``); an
    adopted object's state has a new random one, and the next change of a field the first
    manager owns (a bigger volume) would fail with a field conflict. The live object's
    ``managedFields`` name the first. (the deployment, the objects fixed)."""
    out = copy.deepcopy(deployment)
    fixed = []
    for resource in out.get("resources") or []:
        if _name(resource.get("urn", "")) not in names:
            continue
        outputs = resource.get("outputs") or {}
        fields = (outputs.get("metadata") or {}).get("managedFields") or []
        creators = [f.get("manager") for f in fields
                    if f.get("operation") == "Apply" and str(f.get("manager", "")).startswith("pulumi-kubernetes")]
        if creators and outputs.get("__fieldManager") not in creators:
            outputs["__fieldManager"] = creators[0]
            fixed.append(_name(resource["urn"]))
    return out, fixed


def repair_file_state(stacks_dir: Path, slug: str) -> list[str]:
    """Remove what an interrupted write left beside the stack's state file in a file://
    backend (``<stacks_dir>/<slug>.json``): a ``.attrs`` sidecar that is not valid JSON,
    and temporary files. Only call it when no live process holds the stack's lock."""
    removed = []
    for path in sorted(stacks_dir.glob(f"{slug}.json*")):
        broken = False
        if path.name.endswith(".attrs"):
            try:
                json.loads(path.read_text() or "x")
            except (OSError, ValueError):
                broken = True
        elif path.name.endswith(".tmp"):
            broken = True
        if broken:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def repair_lock_files(locks_dir: Path) -> list[str]:
    """Remove the half-written lock files an update left in a file:// backend's lock folder
    of one stack (``<locks_dir>/<id>.json.<hex>.tmp``, empty or not JSON): a disk that filled
    up while the engine took the lock leaves one, and every later command on the stack then
    fails with "unexpected end of JSON input". Only call it when no live process holds the
    stack's lock."""
    removed = []
    for path in sorted(locks_dir.glob("*.tmp")):
        try:
            json.loads(path.read_text() or "x")
            continue  # whole: being renamed into place by a live writer
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed
