"""storekit: isolated e-commerce stores on Kubernetes, each one a Pulumi stack.

    from storekit import Storekit, StoreSpec
    kit = Storekit()
    plan = kit.plan(StoreSpec(name="My Test Shop", admin_email="owner@example.com"))
    result = kit.apply(plan)

The library is the product; the CLI (``storekit.cli``) and the dashboard
(``storekit.webapp``) are thin edges over it. It never prints and never exits: every
call returns data (dataclasses with ``to_dict()``) or raises a ``StorekitError``.
"""

__version__ = "0.1.0"

from .errors import (  # noqa: E402  (cheap: no engine, no cluster client)
    ClusterUnreachable,
    EngineInterrupted,
    EngineUnavailable,
    OperationFailed,
    OperationTimeout,
    SpecError,
    PlanMismatch,
    StalePlan,
    StoreBusy,
    StoreNotFound,
    StorekitError,
    ToolMissing,
)

# The rest loads on first use (PEP 562): ``import storekit`` must stay cheap, because every
# ``storekit`` command imports it and the engine's SDK alone takes about half a second.
_LAZY = {
    "Diagnostic": "events", "Event": "events", "OperationFinished": "events", "OperationStarted": "events",
    "Recovered": "events", "ResourceFailed": "events", "ResourceFinished": "events", "ResourceStarted": "events",
    "Storekit": "kit",
    "Plan": "plan", "PlanSummary": "plan", "PropertyChange": "plan", "ResourceChange": "plan",
    "ApplyResult": "results", "DriftReport": "results", "FleetResult": "results", "StoreOutputs": "results",
    "StoreSummary": "results",
    "Settings": "settings",
    "StoreSpec": "spec", "slugify": "spec",
    "Actor": "recorder",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'storekit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Actor", "ApplyResult", "ClusterUnreachable", "Diagnostic", "DriftReport", "EngineInterrupted", "EngineUnavailable",
    "Event",
    "FleetResult", "OperationFailed", "OperationFinished", "OperationStarted", "OperationTimeout",
    "Plan", "PlanSummary", "PropertyChange", "Recovered", "ResourceChange", "ResourceFailed", "ResourceFinished",
    "ResourceStarted", "Settings", "SpecError", "PlanMismatch", "StalePlan", "StoreBusy", "StoreNotFound",
    "StoreOutputs", "StoreSpec", "StoreSummary", "Storekit", "StorekitError", "ToolMissing",
    "slugify",
]
