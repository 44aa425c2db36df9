"""Fleets: many stores planned or applied ``parallel`` at a time, one failure stopping no
other. A mixin of ``Storekit`` (``kit.py``), kept apart so each module stays small."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from .errors import StorekitError
from .events import EventCallback
from .fleet import FleetPlan
from .plan import Plan
from .results import FleetItem, FleetResult
from .spec import StoreSpec


class FleetOperations:
    def plan_many(self, specs: Sequence[StoreSpec], *, parallel: int | None = None,
                  refresh: bool | None = None) -> FleetResult:
        return self._fleet(specs, lambda s: FleetItem(store=s.slug, plan=self.plan(s, refresh=refresh)),
                           parallel)

    def plan_fleet(self, specs: Sequence[StoreSpec], *, prune: bool = False, parallel: int | None = None,
                   refresh: bool | None = None) -> FleetPlan:
        """Plan every store of a fleet; with ``prune``, destroy stores the fleet lacks."""
        planned = self._fleet(specs, lambda s: FleetItem(store=s.slug, plan=self.planner.plan(s, refresh=refresh)),
                              parallel)
        plans = [i.plan for i in planned.items if i.plan is not None]
        errors = [(i.store, i.error) for i in planned.items if i.error]
        if prune:
            wanted = {s.slug for s in specs}
            plans += [self.planner.plan_destroy(self._snapshot(s.slug)) for s in self.list() if s.slug not in wanted]
        reviewed, capacity = self.governance.review(plans)
        return FleetPlan(plans=reviewed, errors=tuple(errors), capacity=capacity)

    def apply_many(self, items: Sequence[Plan | StoreSpec], *, parallel: int | None = None,
                   on_event: EventCallback | None = None) -> FleetResult:
        """Apply many plans or specs, ``parallel`` at a time; one failure stops no other.
        Plans are checked against the policy together first (a fleet's capacity, its stores
        per owner): a store a mandatory rule blocks is not applied."""
        blocked = self.governance.enforce([i for i in items if isinstance(i, Plan)])

        def one(item):
            if isinstance(item, Plan) and item.store in blocked:
                raise blocked[item.store]
            result = self.apply(item, on_event=on_event)
            return FleetItem(store=result.store, result=result)
        return self._fleet(items, one, parallel)

    def _fleet(self, items, work, parallel: int | None) -> FleetResult:
        parallel = parallel or self.settings.parallel
        started = time.monotonic()

        def guarded(item):
            try:
                return work(item)
            except StorekitError as e:
                store = item.store if isinstance(item, Plan) else getattr(item, "slug", str(item))
                return FleetItem(store=store, error=str(e), error_kind=e.kind)

        with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="storekit") as pool:
            results = tuple(pool.map(guarded, items))
        return FleetResult(items=results, seconds=round(time.monotonic() - started, 3))
