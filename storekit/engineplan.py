"""Apply equals plan: the engine's own update plans, bound to the plan a person saw.

A storekit ``Plan`` shows what applying would do; the engine's update plan (``pulumi
preview --save-plan``, ``up --plan``: ``plan=`` in the Automation API) makes the engine
refuse, resource by resource, any step the preview did not contain ("violates plan").

- Planning an existing store saves the engine's plan beside the store's workspace, named
  by the storekit plan's hash (``EnginePlans.keep``): an apply of that same plan, in this
  process or another on this machine, runs ``up`` bound to it.
- Planning a new store (its planning stack is removed again) keeps the secrets and the engine
  plan on the ``Plan`` object itself (``Prepared``, never serialized): applying that object
  in the same process uses them.
- Where there is none (a new store's plan read back from a file; a plan made on another
  replica; a plan file whose content was edited, so its hash changed) the apply
  previews once more, with the program it is about to run, and refuses before changing
  anything when that preview differs from the plan shown (``differences``); the ``up``
  is then bound to that fresh engine plan.

Either way an apply performs the changes its plan showed, or stops with ``PlanMismatch``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .plan import Plan, ResourceChange

KEEP = 8  # engine plans kept per store (drift checks plan too, every interval)
KEEP_SECONDS = 24 * 3600  # an engine plan nobody applied is removed after a day


@dataclass(frozen=True)
class Prepared:
    """What planning a new store leaves for applying that same plan object: the secrets the
    preview's program had, and the engine plan it saved (its stack is removed again after
    the preview, but its encryption salt stays in the store's workspace, so the plan's
    secrets decrypt when the apply creates the stack anew)."""

    secrets: dict = field(repr=False)
    engine_plan: Path


class EnginePlans:
    def __init__(self, folder_of):
        self._folder_of = folder_of  # slug -> the store's workspace folder

    def _folder(self, slug: str) -> Path:
        folder = Path(self._folder_of(slug)) / "plans"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def scratch(self, slug: str) -> Path:
        """A new path for the engine to save a plan to. Plans nobody applied are pruned: all
        but the newest ``KEEP`` of a store, and any older than a day (an apply that finds
        none previews again)."""
        folder = self._folder(slug)
        cutoff = time.time() - KEEP_SECONDS
        aged = []
        for old in folder.glob("*.json"):
            try:
                aged.append((old.stat().st_mtime, old))
            except OSError:
                continue
        aged.sort(reverse=True)
        for i, (mtime, old) in enumerate(aged):
            if i >= KEEP or mtime < cutoff:
                old.unlink(missing_ok=True)
        return folder / f"scratch-{uuid.uuid4().hex}.json"

    def _named(self, plan: Plan) -> Path:
        return self._folder(plan.store) / (plan.hash.split(":", 1)[-1] + ".json")

    def keep(self, plan: Plan, saved: Path) -> None:
        """Bind the engine plan at ``saved`` to ``plan`` (by its hash); drop it when there
        is nothing to apply."""
        if not saved.exists():
            return
        if plan.has_changes:
            os.replace(saved, self._named(plan))
        else:
            saved.unlink(missing_ok=True)

    def find(self, plan: Plan) -> Path | None:
        path = self._named(plan)
        return path if path.exists() else None

    def claim(self, path: Path | None) -> Path | None:
        """Take an engine plan for one update, atomically (a rename): of several applies of
        the same plan at once (the same plan made by several processes has one name), one
        gets it and the others None (they preview again, then meet the stack's lock)."""
        if path is None:
            return None
        mine = Path(path).with_name(f"claimed-{uuid.uuid4().hex}.json")
        try:
            os.replace(path, mine)
        except FileNotFoundError:
            return None
        return mine

    def discard(self, path: Path | None) -> None:
        if path is not None:
            Path(path).unlink(missing_ok=True)


def _key(change: ResourceChange) -> tuple[str, str]:
    return change.name, change.type


def _acting(changes: Iterable[ResourceChange]) -> dict[tuple[str, str], ResourceChange]:
    return {_key(c): c for c in changes if c.op not in ("same", "read")}


def _props(change: ResourceChange) -> str:
    return json.dumps(sorted((p.to_dict() for p in change.properties), key=lambda p: p["path"]),
                      sort_keys=True, default=str)


def differences(shown: Iterable[ResourceChange], fresh: Iterable[ResourceChange]) -> list[str]:
    """How the engine's preview now (``fresh``) differs from the plan shown: each entry
    names a resource and what the apply would do that the plan did not say (or no longer
    needs to do). Empty when they agree on every change and every changed property."""
    shown, fresh = _acting(shown), _acting(fresh)
    found = []
    for key, now in fresh.items():
        was = shown.get(key)
        kind = f"{now.kind} {now.name}"
        if was is None:
            found.append(f"{kind}: would {now.op}, which the plan did not show")
        elif was.op != now.op:
            found.append(f"{kind}: would {now.op}, the plan showed {was.op}")
        elif _props(was) != _props(now):
            paths = sorted({p.path for p in was.properties} ^ {p.path for p in now.properties}) or \
                sorted({p.path for p in now.properties})
            found.append(f"{kind}: would change {', '.join(paths)} other than the plan showed")
    for key, was in shown.items():
        if key not in fresh:
            found.append(f"{was.kind} {was.name}: the plan's {was.op} is no longer what the store needs")
    return found
