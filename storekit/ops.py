"""Day-2 operations on a store's live objects: health, logs, rollout restarts.

These talk to the Kubernetes API directly through lightkube (see docs/kubernetes-client.md
for why lightkube): they read or nudge live objects and change nothing in the stack's
recorded state, so they never create drift. A restart is what ``kubectl rollout restart``
does: a new ``kubectl.kubernetes.io/restartedAt`` annotation on the pod template (a field
storekit's stack does not own, so a later plan shows no change), then a wait until the
new pods are ready.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Iterator

import httpx2 as httpx  # lightkube's HTTP client
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import PersistentVolumeClaim, Pod, ResourceQuota

from .engine import quantity
from .errors import ClusterUnreachable, OperationTimeout, SpecError, StoreNotFound, StorekitError

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True)
class PodHealth:
    name: str
    component: str
    phase: str
    ready: bool
    restarts: int
    age_seconds: int
    node: str | None
    cpu: str | None = None  # usage from metrics-server ("12m", "85Mi"), where the cluster has it
    memory: str | None = None
    message: str | None = None  # what a finished container said (its termination message)


@dataclass(frozen=True)
class VolumeHealth:
    name: str
    phase: str
    capacity: str | None
    requested: str | None
    storage_class: str | None


@dataclass(frozen=True)
class QuotaUsage:
    resource: str
    used: str
    hard: str
    percent: float | None


@dataclass(frozen=True)
class StoreHealth:
    store: str
    namespace: str
    healthy: bool
    pods: tuple[PodHealth, ...] = field(default_factory=tuple)
    volumes: tuple[VolumeHealth, ...] = field(default_factory=tuple)
    quota: tuple[QuotaUsage, ...] = field(default_factory=tuple)
    notices: tuple[str, ...] = ()  # what a person must know, e.g. "WooCommerce not installed: <reason>"
    metrics: bool = False  # whether metrics-server reported the pods' usage

    def to_dict(self) -> dict:
        return asdict(self)


def _api(call, namespace: str):
    """Call the Kubernetes API: a missing namespace is StoreNotFound, a transport failure
    (refused, timed out, TLS) ClusterUnreachable; any other error is a bug and stays one."""
    try:
        return call()
    except ApiError as e:
        if e.status.code == 404:
            raise StoreNotFound(namespace) from e
        raise
    except httpx.TransportError as e:
        raise ClusterUnreachable(f"the Kubernetes API does not answer: {e}",
                                 hint="Check the cluster (`make cluster-status`).") from e


def _usage(client: Client, namespace: str) -> dict[str, tuple[str, str]] | None:
    """Each pod's CPU and memory use as metrics-server reports it (summed over its
    containers), or None where the cluster serves no metrics API."""
    from lightkube.generic_resource import create_namespaced_resource

    pod_metrics = create_namespaced_resource("metrics.k8s.io", "v1beta1", "PodMetrics", "pods")
    try:
        items = list(client.list(pod_metrics, namespace=namespace))
    except (ApiError, httpx.TransportError):
        return None  # no metrics API (404, 503): not an error of the store
    usage = {}
    for item in items:
        containers = item.get("containers") or []
        cpu = sum(quantity(c.get("usage", {}).get("cpu", "0")) or 0 for c in containers)
        memory = sum(quantity(c.get("usage", {}).get("memory", "0")) or 0 for c in containers)
        millis = cpu * 1000  # an idle pod uses a fraction of a millicore: keep one decimal there
        usage[item.metadata.name] = (f"{millis:.1f}m" if millis < 10 else f"{millis:.0f}m", f"{round(memory / 2**20)}Mi")
    return usage


def _message(statuses) -> str | None:
    for status in statuses:
        done = (status.state and status.state.terminated) or (status.lastState and status.lastState.terminated)
        if done and done.message:
            return done.message.strip()
    return None


def health(client: Client, store: str, namespace: str, serving: tuple[str, ...], *,
           setup: str | None = None, notice=None) -> StoreHealth:
    """Pods (with their usage from metrics-server), volumes and quota of a namespace; healthy
    when every pod of a ``serving`` component is ready and every volume is bound. The newest
    pod of the ``setup`` component says how the setup ended; ``notice`` turns that into what a
    person must know."""
    now = datetime.now(timezone.utc)
    pods = []
    usage = _usage(client, namespace)
    for pod in _api(lambda: list(client.list(Pod, namespace=namespace)), namespace):
        labels = pod.metadata.labels or {}
        statuses = (pod.status.containerStatuses or []) if pod.status else []
        created = pod.metadata.creationTimestamp
        pods.append(PodHealth(
            name=pod.metadata.name,
            component=labels.get("app.kubernetes.io/name", ""),
            phase=(pod.status.phase if pod.status else None) or "Unknown",
            ready=bool(statuses) and all(s.ready for s in statuses),
            restarts=sum(s.restartCount or 0 for s in statuses),
            age_seconds=int((now - created).total_seconds()) if created else 0,
            node=pod.spec.nodeName if pod.spec else None,
            cpu=(usage or {}).get(pod.metadata.name, (None, None))[0],
            memory=(usage or {}).get(pod.metadata.name, (None, None))[1],
            message=_message(statuses),
        ))
    volumes = []
    for pvc in _api(lambda: list(client.list(PersistentVolumeClaim, namespace=namespace)), namespace):
        volumes.append(VolumeHealth(
            name=pvc.metadata.name,
            phase=(pvc.status.phase if pvc.status else None) or "Unknown",
            capacity=((pvc.status.capacity or {}).get("storage") if pvc.status else None),
            requested=(pvc.spec.resources.requests or {}).get("storage") if pvc.spec.resources else None,
            storage_class=pvc.spec.storageClassName,
        ))
    quota = []
    for rq in _api(lambda: list(client.list(ResourceQuota, namespace=namespace)), namespace):
        hard = (rq.status.hard if rq.status else None) or {}
        used = (rq.status.used if rq.status else None) or {}
        for key in sorted(hard):
            h, u = quantity(hard[key]), quantity(used.get(key, "0"))
            quota.append(QuotaUsage(resource=key, used=used.get(key, "0"), hard=hard[key],
                                    percent=round(float(100 * u / h), 1) if h and u is not None else None))
    serving_pods = [p for p in pods if p.component in serving]
    healthy = bool(serving_pods) and all(p.ready for p in serving_pods) and all(v.phase == "Bound" for v in volumes)
    notices = setup_notices(pods, setup, notice)
    return StoreHealth(store=store, namespace=namespace, healthy=healthy, pods=tuple(pods),
                       volumes=tuple(volumes), quota=tuple(quota), notices=notices, metrics=usage is not None)


def setup_notices(pods, setup: str | None, notice) -> tuple[str, ...]:
    """The notice of the newest ``setup`` pod's termination message, if any."""
    done = [p for p in pods if setup and p.component == setup and p.message]
    if not done or notice is None:
        return ()
    said = notice(min(done, key=lambda p: p.age_seconds).message)
    return (said,) if said else ()


def engine_health(client: Client, store: str, namespace: str, engine) -> StoreHealth:
    """``health`` with what the store's engine declares (serving and setup components)."""
    return health(client, store, namespace, engine.health_components if engine else (),
                  setup=engine.setup_component if engine else None, notice=engine.setup_notice if engine else None)


def with_notices(outputs, engine, client_factory):
    """A store's recorded outputs with what its setup said, read live; as they are when the
    cluster does not answer."""
    try:
        notices = engine and live_notices(client_factory(), outputs.namespace, engine.setup_component,
                                          engine.setup_notice)
    except StorekitError:
        notices = ()
    return replace(outputs, notices=notices) if notices else outputs


def live_notices(client: Client, namespace: str, setup: str | None, notice) -> tuple[str, ...]:
    """``setup_notices`` read live (for a store's outputs); nothing when the cluster does not answer."""
    if not setup:
        return ()
    try:
        found = list(client.list(Pod, namespace=namespace, labels={"app.kubernetes.io/name": setup}))
    except (ApiError, httpx.TransportError):
        return ()
    now = datetime.now(timezone.utc)
    pods = [PodHealth(name=p.metadata.name, component=setup, phase="", ready=False, restarts=0,
                      age_seconds=int((now - p.metadata.creationTimestamp).total_seconds())
                      if p.metadata.creationTimestamp else 0, node=None,
                      message=_message((p.status.containerStatuses or []) if p.status else []))
            for p in found]
    return setup_notices(pods, setup, notice)


def pod_for(client: Client, namespace: str, component_or_pod: str) -> str:
    """A pod name from a component ("wordpress") or a pod name; the newest running one."""
    pods = _api(lambda: list(client.list(Pod, namespace=namespace)), namespace)
    names = {p.metadata.name for p in pods}
    if component_or_pod in names:
        return component_or_pod
    matching = [p for p in pods if (p.metadata.labels or {}).get("app.kubernetes.io/name") == component_or_pod
                and p.metadata.deletionTimestamp is None]
    if not matching:
        choices = sorted({(p.metadata.labels or {}).get("app.kubernetes.io/name", "") for p in pods} - {""})
        raise SpecError([("pod", f"no pod or component named {component_or_pod!r} "
                                  f"(components: {', '.join(choices) or 'none'}; pods: {', '.join(sorted(names)) or 'none'})")],
                        subject="logs request")
    matching.sort(key=lambda p: p.metadata.creationTimestamp or datetime.min.replace(tzinfo=timezone.utc))
    return matching[-1].metadata.name


def logs(client: Client, namespace: str, component_or_pod: str, *, tail: int | None = 200,
         since: int | None = None, follow: bool = False) -> Iterator[str]:
    pod = pod_for(client, namespace, component_or_pod)
    try:
        yield from client.log(pod, namespace=namespace, tail_lines=tail, since=since, follow=follow)
    except ApiError as e:
        raise SpecError([("pod", f"logs of {pod} are not available: {e.status.message}")],
                        subject="logs request") from e


@dataclass(frozen=True)
class RestartResult:
    store: str
    restarted: tuple[str, ...]
    at: str
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return f"Restarted {', '.join(self.restarted)}: new pods are ready."

    def to_dict(self) -> dict:
        return {"store": self.store, "restarted": list(self.restarted), "at": self.at, "seconds": self.seconds,
                "text": self.text}


def restart(client: Client, namespace: str, components: tuple[str, ...], *, timeout: int = 300) -> tuple[str, ...]:
    """Rollout-restart the components' Deployments and wait until the new pods are ready."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    generations = {}
    for name in components:
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        obj = _api(lambda: client.patch(Deployment, name, patch, namespace=namespace), namespace)
        generations[name] = obj.metadata.generation
    deadline = time.monotonic() + timeout
    pending = set(components)
    while pending:
        for name in sorted(pending):
            d = _api(lambda: client.get(Deployment, name, namespace=namespace), namespace)
            st = d.status
            if (st and st.observedGeneration and st.observedGeneration >= generations[name]
                    and (st.updatedReplicas or 0) == d.spec.replicas
                    and (st.availableReplicas or 0) == d.spec.replicas
                    and (st.replicas or 0) == d.spec.replicas):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise OperationTimeout(f"restart of {', '.join(sorted(pending))} in {namespace} did not finish "
                                   f"in {timeout}s", hint="Check `storekit health`.")
        if pending:
            time.sleep(1)
    return tuple(components)
