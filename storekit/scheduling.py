"""Why a store's pods are not running, in the scheduler's own words, for a timeout's message.

When no node can take a store's pod (nodes full, no node in the platform's pool, an affinity
or taint that nothing satisfies), the engine waits for the workload or the setup Job until
its timeout and then says only that it timed out. The pod itself carries the reason: its
``PodScheduled`` condition is False, with reason ``Unschedulable`` and the scheduler's
message ("0/3 nodes are available: 1 Too many pods, ..."), as ``kubectl describe pod``
shows. ``unscheduled`` reads them; ``explain`` adds them to an ``OperationTimeout``.

This never fails an update early: a cluster autoscaler may still add a node. Reading the
pods is best effort; when the cluster cannot be read, the timeout is raised as it was.
"""

from __future__ import annotations

from typing import Callable, Iterable

from .errors import OperationTimeout

MAX_MESSAGE = 400  # the scheduler's message for a big cluster lists every reason; keep it readable


def unscheduled(pods: Iterable) -> list[tuple[str, str, str]]:
    """(pod, reason, scheduler's message) of each pod whose ``PodScheduled`` condition is False."""
    found = []
    for pod in pods:
        for condition in (pod.status.conditions or []) if pod.status else []:
            if condition.type == "PodScheduled" and condition.status == "False":
                message = " ".join((condition.message or "").split())
                if len(message) > MAX_MESSAGE:
                    message = message[:MAX_MESSAGE - 3] + "..."
                found.append((pod.metadata.name, condition.reason or "Unschedulable", message))
    return sorted(found)


def read_unscheduled(client, namespace: str) -> list[tuple[str, str, str]]:
    from lightkube.resources.core_v1 import Pod

    return unscheduled(client.list(Pod, namespace=namespace))


def explain(error: OperationTimeout, client_factory: Callable, namespace: str,
            scrub: Callable[[str], str] = str) -> OperationTimeout:
    """``error`` naming the store's pods that could not be scheduled, or ``error`` itself
    when there are none (or the cluster cannot be read)."""
    try:
        found = read_unscheduled(client_factory(), namespace)
    except Exception:  # noqa: BLE001 - the timeout is the error; what the cluster says is extra
        return error
    if not found:
        return error
    return error.with_unschedulable([(pod, reason, scrub(message)) for pod, reason, message in found])
