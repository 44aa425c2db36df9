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

from .errors import (  # noqa: E402
    ClusterUnreachable,
    EngineUnavailable,
    OperationFailed,
    OperationTimeout,
    SpecError,
    StalePlan,
    StoreBusy,
    StoreNotFound,
    StorekitError,
    ToolMissing,
)
from .events import (  # noqa: E402
    Diagnostic,
    Event,
    OperationFinished,
    OperationStarted,
    ResourceFailed,
    ResourceFinished,
    ResourceStarted,
)
from .kit import Storekit  # noqa: E402
from .recorder import Actor  # noqa: E402
from .plan import Plan, PlanSummary, PropertyChange, ResourceChange  # noqa: E402
from .results import ApplyResult, DriftReport, FleetResult, StoreOutputs, StoreSummary  # noqa: E402
from .settings import Settings  # noqa: E402
from .spec import StoreSpec, slugify  # noqa: E402

__all__ = [
    "Actor", "ApplyResult", "ClusterUnreachable", "Diagnostic", "DriftReport", "EngineUnavailable", "Event",
    "FleetResult", "OperationFailed", "OperationFinished", "OperationStarted", "OperationTimeout",
    "Plan", "PlanSummary", "PropertyChange", "ResourceChange", "ResourceFailed", "ResourceFinished",
    "ResourceStarted", "Settings", "SpecError", "StalePlan", "StoreBusy", "StoreNotFound",
    "StoreOutputs", "StoreSpec", "StoreSummary", "Storekit", "StorekitError", "ToolMissing",
    "slugify",
]
