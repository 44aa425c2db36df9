"""The no-op plan without the engine, when nothing can have changed.

A refreshed plan is an engine run: the pulumi CLI, the Kubernetes plugin, the program,
a read of every object; seconds per store. Most plans of a fleet, and every scheduled
drift check, find nothing. A *baseline* proves "nothing" in milliseconds:

- it records the fingerprint of everything a store's program is a function of (the
  resolved spec, the settings the program reads, the engine's source file, storekit's
  and the Kubernetes plugin's versions, the state backend) and the resourceVersion of
  every object, as the engine left them;
- a plan whose desired spec has that fingerprint lists the live objects, one LIST per
  kind by the store's label. When the objects and every resourceVersion are the
  baseline's, the engine would compare the same desired inputs with the same recorded
  ones and read the same live objects: the plan is "no changes", provably. Any
  difference, no baseline, or a cluster this module cannot read (``kubelist``) means
  the full engine plan. ``refresh=True`` always runs the engine.

An object whose resourceVersion moved still matches when the write provably cannot change
what the engine compares (``signature``): the Kubernetes plugin compares the live values
at the shape of the recorded inputs (maps by key, lists by position) with the desired
inputs, and the inputs are exactly the fields its server-side apply owns. So an object
matches when its uid is the same, the plugin's own managedFields entries are exactly as
recorded (a value another client changed, or a field it removed, would have moved out of
them: ownership follows a changed value), and every other entry that differs owns only
map fields and scalars outside any list, or only status (a key added to a map is pruned
away; an element added to a list could shift the positions the plugin compares, so any
entry owning list elements must be as recorded). That admits the writes controllers make
right after an apply (a claim's binding, a Deployment's revision annotation, status)
without the engine, and sends anything else to it.

Baselines come from two places: a successful apply (what the engine reported for each
object: its resourceVersion, uid and managedFields), and a refreshed engine plan that
found no changes while the live objects stayed the same from just before it to just after
it. Any failed or
partial apply removes the store's baseline first. The file lives beside the store's
workspace; another machine sharing the state backend simply has none and uses the engine.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from . import __version__

VERSION = 2
PLUGIN_MANAGER = "pulumi-kubernetes"  # the plugin's field managers: pulumi-kubernetes-<hex>
STORE_LABEL = "storekit.io/store"
# Kinds whose REST path this module knows. Objects of any other kind: no fast path.
PLURALS = {
    "Namespace": "namespaces", "Secret": "secrets", "ConfigMap": "configmaps", "Service": "services",
    "ServiceAccount": "serviceaccounts", "PersistentVolumeClaim": "persistentvolumeclaims",
    "ResourceQuota": "resourcequotas", "LimitRange": "limitranges", "Deployment": "deployments",
    "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs", "CronJob": "cronjobs",
    "Ingress": "ingresses", "NetworkPolicy": "networkpolicies", "Role": "roles",
    "RoleBinding": "rolebindings", "PodDisruptionBudget": "poddisruptionbudgets",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
}
CLUSTER_SCOPED = {"Namespace"}
# What a program reads from the platform settings (spec.resolve, the programs, stacks.kube,
# engine.store_access): a change to any of them is a change the engine must plan.
PROGRAM_SETTINGS = ("kubeconfig", "context", "state_url", "timeout", "store_domain", "ingress_class",
                    "ingress_namespace", "storage_class", "tls_issuer", "await_ingress", "node_pool",
                    "store_role", "service_account", "woocommerce_source", "woocommerce_optional",
                    "backup_location", "s3_endpoint", "s3_access_key", "s3_secret_key", "s3_region")


@dataclass(frozen=True)
class Baseline:
    store: str
    fingerprint: str  # of the desired spec and everything else the program reads
    spec: dict  # the resolved spec, StoreSpec.to_dict()
    engine_file: str  # the engine's source, re-hashed at every check
    objects: dict  # "apiVersion|kind|namespace|name" -> resourceVersion
    names: dict  # the same keys -> [logical name in the stack, resource type]
    signatures: dict  # the same keys -> signature(metadata), or None: then only the same resourceVersion

    @property
    def digest(self) -> str:
        """What a plan made from this baseline records as its fingerprint."""
        blob = json.dumps([self.fingerprint, sorted(self.objects.items())], separators=(",", ":"))
        return "baseline:" + hashlib.sha256(blob.encode()).hexdigest()


def key(api_version: str, kind: str, namespace: str, name: str) -> str:
    return f"{api_version}|{kind}|{namespace}|{name}"


def api_version_of(resource_type: str) -> tuple[str, str] | None:
    """("apps/v1", "Deployment") for "kubernetes:apps/v1:Deployment"; None for other types."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or parts[2] not in PLURALS:
        return None
    return (parts[1][len("core/"):] if parts[1].startswith("core/") else parts[1]), parts[2]


def fingerprint(spec_dict: dict, settings, engine_file: str) -> str | None:
    """Digest of the program's inputs; None when the engine's source cannot be read."""
    try:
        source = source_digest(engine_file)
    except OSError:
        return None
    from .toolchain import KUBERNETES_PLUGIN_VERSION

    blob = json.dumps({"spec": spec_dict, "settings": {k: getattr(settings, k) for k in PROGRAM_SETTINGS},
                       "engine": source, "storekit": __version__, "plugin": KUBERNETES_PLUGIN_VERSION},
                       sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def source_digest(engine_file: str) -> str:
    """Digest of the engine's code: its file, and when that is in a package every file of the
    package tree up to ``stacks`` (the program reads its sibling modules, their assets and
    stacks.kube). Raises OSError when the file cannot be read."""
    path = Path(engine_file)
    path.stat()
    root, files = path.parent, [path]
    if (root / "__init__.py").exists():
        while root.name != "stacks" and (root.parent / "__init__.py").exists():
            root = root.parent
        files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def engine_file(program) -> str:
    """The source file of an engine's program (its module)."""
    return getattr(sys.modules.get(getattr(program, "__module__", ""), None), "__file__", "") or ""


def signature(meta: dict) -> list | None:
    """What of an object's metadata decides the engine's comparison (see the module's
    docstring): [uid, the entries that must not change]. None when the plugin owns nothing
    by server-side apply there (then only an unchanged resourceVersion proves anything)."""
    entries = meta.get("managedFields") or ()
    if not meta.get("uid") or not any(_plugin_applied(e) for e in entries):
        return None
    kept = sorted(json.dumps(e, sort_keys=True, separators=(",", ":")) for e in entries if not _volatile(e))
    return [meta["uid"], kept]


def _plugin_applied(entry: dict) -> bool:
    return str(entry.get("manager", "")).startswith(PLUGIN_MANAGER) and entry.get("operation") == "Apply"


def _volatile(entry: dict) -> bool:
    """Another manager's entry owning only map fields and scalars outside lists, or status."""
    if str(entry.get("manager", "")).startswith(PLUGIN_MANAGER) or entry.get("fieldsType", "FieldsV1") != "FieldsV1":
        return False
    return not _owns_list_elements({k: v for k, v in (entry.get("fieldsV1") or {}).items() if k != "f:status"})


def _owns_list_elements(fields) -> bool:
    if not isinstance(fields, dict):
        return True  # not a field set this module can read: keep the entry
    return any(k[:2] in ("k:", "v:", "i:") or _owns_list_elements(v) for k, v in fields.items() if k != ".")


def matches(baseline: Baseline, found: dict | None) -> bool:
    """Do the live objects (``live``) prove the baseline's "no changes"?"""
    if found is None or set(found) != set(baseline.objects):
        return False
    for k, (version, sig) in found.items():
        if version != baseline.objects[k] and (baseline.signatures.get(k) is None
                                               or sig != baseline.signatures[k]):
            return False
    return True


# ---- the file -------------------------------------------------------------------------

def _path(settings, slug: str) -> Path:
    return settings.home_path / "work" / slug / "baseline.json"


def load(settings, slug: str) -> Baseline | None:
    try:
        data = json.loads(_path(settings, slug).read_text())
        if data.pop("version", None) != VERSION or data.get("store") != slug:
            return None
        return Baseline(**data)
    except (OSError, ValueError, TypeError):
        return None


def save(settings, baseline: Baseline) -> None:
    path = _path(settings, baseline.store)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"version": VERSION, **asdict(baseline)}, sort_keys=True))
    os.replace(tmp, path)  # readers see the old baseline or the new one, never half of one


def discard(settings, slug: str) -> None:
    _path(settings, slug).unlink(missing_ok=True)


# ---- live objects ---------------------------------------------------------------------

def live(settings, slug: str, kinds: Iterable[tuple[str, str, str]]) -> dict[str, tuple] | None:
    """The store's live objects of ``kinds`` ((apiVersion, kind, namespace) each), by label:
    one LIST per kind and namespace; key -> (resourceVersion, signature). None when the
    cluster cannot be read this way."""
    from .kubelist import Unsupported, lister

    try:
        client = lister(settings.kubeconfig, settings.context, in_cluster=settings.in_cluster)
    except Unsupported:
        return None
    objects: dict[str, tuple] = {}
    try:
        for api_version, kind, namespace in sorted(set(kinds)):
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            scope = "" if kind in CLUSTER_SCOPED else f"/namespaces/{namespace}"
            found = client.list(f"{base}{scope}/{PLURALS[kind]}", f"{STORE_LABEL}={slug}")
            objects.update({key(api_version, kind, ns, name): (meta.get("resourceVersion"), signature(meta))
                            for (ns, name), meta in found.items()})
    except Unsupported:
        return None
    finally:
        client.close()
    return objects


def kinds_of(objects: Iterable[str]) -> set[tuple[str, str, str]]:
    kinds = set()
    for k in objects:
        api_version, kind, namespace, _ = k.split("|", 3)
        kinds.add((api_version, kind, namespace))
    return kinds


def current(settings, slug: str) -> Baseline | None:
    """The store's baseline when every live object is exactly as it records; else None."""
    baseline = load(settings, slug)
    if baseline is None or fingerprint(baseline.spec, settings, baseline.engine_file) != baseline.fingerprint:
        return None
    return baseline if matches(baseline, live(settings, slug, kinds_of(baseline.objects))) else None


def index(resources: Iterable[tuple[str, str, dict]]) -> tuple[dict, dict, dict] | None:
    """From (logical name, resource type, engine outputs) triples: the objects (key ->
    resourceVersion), their names (key -> [logical name, type]) and signatures. None when
    an object of a Kubernetes type cannot be keyed (unknown kind, no resourceVersion)."""
    objects, names, signatures = {}, {}, {}
    for name, resource_type, out in resources:
        if not resource_type.startswith("kubernetes:"):
            continue
        kinds = api_version_of(resource_type)
        meta = (out or {}).get("metadata") or {}
        if kinds is None or not meta.get("resourceVersion") or not meta.get("name"):
            return None
        namespace = "" if kinds[1] in CLUSTER_SCOPED else meta.get("namespace", "")
        k = key(*kinds, namespace, meta["name"])
        objects[k], names[k], signatures[k] = meta["resourceVersion"], [name, resource_type], signature(meta)
    return objects, names, signatures
