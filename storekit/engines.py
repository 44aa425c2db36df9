"""The engine registry: every ``Engine`` registered under the ``storekit.engines`` entry points.

storekit's own engines register themselves the same way a third party's do (setup.cfg)::

    [options.entry_points]
    storekit.engines =
        myengine = mypackage.engine:ENGINE

The core never imports an engine module; what it knows of engines (tier names, image keys,
components) it reads from the registered ``Engine`` objects (see ``storekit.engine``).
"""

from __future__ import annotations

import functools
from importlib.metadata import entry_points

from .engine import Engine
from .errors import SpecError, StorekitError

ENTRY_POINT_GROUP = "storekit.engines"
DEFAULT_ENGINE = "woocommerce"


@functools.lru_cache(maxsize=1)
def registry() -> dict[str, Engine]:
    engines: dict[str, Engine] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        engine = ep.load()
        if not isinstance(engine, Engine) or engine.name != ep.name:
            raise StorekitError(f"entry point {ep.value!r} ({ENTRY_POINT_GROUP}) is not an Engine named {ep.name!r}",
                                hint="Fix the package that registers it.")
        engines[ep.name] = engine
    if not engines:
        raise StorekitError("no store engines are registered",
                            hint="Reinstall storekit (`make venv`), which registers its engines as entry points.")
    return engines


def get_engine(name: str) -> Engine:
    engines = registry()
    if name not in engines:
        raise SpecError([("engine", f"must be one of {', '.join(sorted(engines))} (got {name!r})")])
    return engines[name]


def available_engines() -> list[str]:
    return sorted(n for n, e in registry().items() if e.available)


# ---- what the edges offer, derived from the engines -----------------------------------

def tier_names() -> list[str]:
    """Every tier of every engine, in each engine's order (the default engine's first)."""
    names: list[str] = []
    for engine in sorted(registry().values(), key=lambda e: e.name != DEFAULT_ENGINE):
        names += [t for t in engine.tier_names if t not in names]
    return names


def components() -> list[str]:
    """Restartable components of every engine."""
    names: list[str] = []
    for engine in registry().values():
        names += [c for c in engine.components if c not in names]
    return names


def log_components() -> list[str]:
    names: list[str] = []
    for engine in registry().values():
        names += [c for c in engine.log_components if c not in names]
    return names
