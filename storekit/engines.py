"""Store engines: a Pulumi program plus its metadata, registered by name.

An engine is an ``Engine`` object. storekit's own engines are built in; other packages
add theirs through the ``storekit.engines`` entry-point group::

    [options.entry_points]
    storekit.engines =
        myengine = mypackage.engine:ENGINE

``program(ctx)`` must return a Pulumi inline program (a function of no arguments) that
creates the store's objects and exports at least ``url``, ``admin_url``, ``admin_user``
and ``namespace``, plus the generated secrets as a secret output named ``secrets``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Callable, Mapping

from .errors import EngineUnavailable, SpecError

ENTRY_POINT_GROUP = "storekit.engines"


@dataclass(frozen=True)
class ProgramContext:
    """What a program gets: the resolved spec, the platform settings and the secrets."""

    spec: object  # StoreSpec
    settings: object  # Settings
    secrets: Mapping[str, str]


@dataclass(frozen=True)
class Engine:
    name: str
    description: str
    program: Callable[[ProgramContext], Callable[[], None]] | None
    secret_names: tuple[str, ...] = ()
    available: bool = True
    unavailable_reason: str = ""
    # Steps shown in timelines, in order, and which resource types belong to each.
    steps: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)

    def require_available(self) -> "Engine":
        if not self.available or self.program is None:
            raise EngineUnavailable(
                f"the '{self.name}' engine is not available yet: {self.unavailable_reason}",
                hint=f"Use one of: {', '.join(available_engines())}.",
            )
        return self

    def step_of(self, resource_type: str, resource_name: str) -> str:
        for step, matches in self.steps:
            if any(m == resource_type or m == resource_name for m in matches):
                return step
        return resource_type.rsplit(":", 1)[-1]


def _builtin() -> dict[str, Engine]:
    from storekit.stacks import medusa, woocommerce

    return {e.name: e for e in (woocommerce.ENGINE, medusa.ENGINE)}


@functools.lru_cache(maxsize=1)
def registry() -> dict[str, Engine]:
    engines = _builtin()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in engines:
            engine = ep.load()
            if isinstance(engine, Engine):
                engines[ep.name] = engine
    return engines


def get_engine(name: str) -> Engine:
    engines = registry()
    if name not in engines:
        raise SpecError([("engine", f"must be one of {', '.join(sorted(engines))} (got {name!r})")])
    return engines[name]


def available_engines() -> list[str]:
    return sorted(n for n, e in registry().items() if e.available)
