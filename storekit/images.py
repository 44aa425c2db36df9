"""Which images a new store runs: the engine's declared ones, changed by the platform's
``images`` setting (STOREKIT_IMAGES), then by the store's own ``images``.

* ``official``: the engine's declared images (what production pulls).
* ``local``: the images built on this machine by ``make images`` (kind/images.py), read from
  ``<home>/images/index.json`` (name -> reference, content-tagged). An engine names an
  image there by its key unless it says otherwise (``Engine.local_images``).
* ``KEY=REF,KEY=REF``: single images replaced, for any engine that has that key.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import SpecError

OFFICIAL, LOCAL = "official", "local"


def _index(home: str) -> dict[str, str]:
    path = Path(home, "images", "index.json")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError({"images": f"is 'local' but {path} does not exist: build the images with `make images`"},
                        subject="setting") from None
    except (OSError, ValueError) as e:
        raise SpecError({"images": f"is 'local' but {path} is not readable JSON ({e})"}, subject="setting") from e
    return data if isinstance(data, dict) else {}


def _pairs(text: str) -> dict[str, str]:
    pairs = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, ref = item.partition("=")
        if not sep or not key.strip() or not ref.strip():
            raise SpecError({"images": f"must be 'official', 'local' or KEY=REF,... pairs (got {text!r})"},
                            subject="setting")
        pairs[key.strip()] = ref.strip()
    return pairs


def images_for(engine, settings, *, optional: tuple[str, ...] = ()) -> dict[str, str]:
    """The engine's images as the platform setting makes them (before the spec's own), with
    the ``optional`` ones the store needs (Engine.optional_images)."""
    declared = {**engine.images, **{k: v for k, v in engine.optional_images.items() if k in optional}}
    choice = (getattr(settings, "images", None) or OFFICIAL).strip()
    if choice == OFFICIAL or not declared:
        return declared
    if choice == LOCAL:
        index = _index(settings.home)
        names = {key: engine.local_images.get(key, key) for key in declared}
        missing = sorted(name for name in names.values() if name not in index)
        if missing:
            raise SpecError({"images": f"is 'local' but {', '.join(missing)} is not built here "
                                       f"(needed by {engine.name} stores): run `make images`"}, subject="setting")
        return {key: index[name] for key, name in names.items()}
    return {key: _pairs(choice).get(key, ref) for key, ref in declared.items()}
