"""How plans and applies use baselines (``storekit.baseline``): the engine-free no-op plan.

- ``plan``: the provable "no changes" plan, or None (then the engine plans);
- ``bracket``: around a refreshed engine plan, LIST before and after; when the engine found
  nothing and nothing moved in between, that is a new baseline;
- ``forget`` before any apply or destroy starts, ``remember`` after an apply succeeded
  (what the engine reported for each object: so the first plan after an apply is
  engine-free too, when the writes since are only the controllers' ``baseline.signature``
  admits);
- ``verify``: is a baseline plan still what the store is (applying it, or refusing it as stale)?
"""

from __future__ import annotations

from typing import Iterable

from . import baseline
from .events import urn_name
from .plan import Plan, ResourceChange


class FastPath:
    def __init__(self, settings):
        self.settings = settings

    def _fingerprint(self, spec, engine) -> tuple[str | None, str]:
        source = baseline.engine_file(engine.program)
        return baseline.fingerprint(spec.to_dict(), self.settings, source), source

    def plan(self, spec, engine) -> Plan | None:
        """A no-op plan for ``spec`` (resolved) when the store provably matches it; else None."""
        found = baseline.current(self.settings, spec.slug)
        if found is None or self._fingerprint(spec, engine)[0] != found.fingerprint:
            return None
        changes = tuple(ResourceChange(name=name, type=rtype, op="same", kube_name=k.rsplit("|", 1)[-1])
                        for k, (name, rtype) in found.names.items())
        return Plan(store=spec.slug, action="noop", spec=spec, changes=changes, fingerprint=found.digest,
                    state_url=self.settings.state_url, refreshed=True)

    def recorded_spec(self, slug: str) -> dict | None:
        """The spec of the store's last apply, when its live objects are still the baseline's."""
        found = baseline.current(self.settings, slug)
        return found.spec if found else None

    def verify(self, plan: Plan) -> bool:
        found = baseline.current(self.settings, plan.store)
        return found is not None and found.digest == plan.fingerprint

    def forget(self, slug: str) -> None:
        baseline.discard(self.settings, slug)

    def remember(self, spec, engine, states: Iterable[tuple[str, tuple[str, dict]]]) -> None:
        """After a successful apply: ``states`` is the translator's urn -> (type, outputs)."""
        indexed = baseline.index((urn_name(urn), rtype, out) for urn, (rtype, out) in states)
        self._save(spec, engine, indexed)

    def bracket(self, spec, engine, deployment: dict | None):
        """Before a refreshed engine plan of ``spec``: read the live objects the recorded
        state names. Returns ``done(plan)``, to call with the engine's plan."""
        recorded = baseline.index((urn_name(r["urn"]), r["type"], r.get("outputs"))
                                  for r in (deployment or {}).get("resources") or () if r.get("custom"))
        if not recorded or not recorded[0]:
            return lambda plan: None
        kinds = baseline.kinds_of(recorded[0])
        before = baseline.live(self.settings, spec.slug, kinds)

        def done(plan: Plan) -> None:
            if before is None or plan.has_changes or plan.drift or not plan.refreshed or set(before) != set(recorded[0]):
                return
            if baseline.live(self.settings, spec.slug, kinds) == before:  # the very objects the engine read
                self._save(spec, engine, ({k: v[0] for k, v in before.items()}, recorded[1],
                                          {k: v[1] for k, v in before.items()}))
        return done

    def _save(self, spec, engine, indexed: tuple[dict, dict, dict] | None) -> None:
        fingerprint, source = self._fingerprint(spec, engine)
        if indexed is None or fingerprint is None or not indexed[0]:
            return
        baseline.save(self.settings, baseline.Baseline(
            store=spec.slug, fingerprint=fingerprint, spec=spec.to_dict(), engine_file=source,
            objects=indexed[0], names=indexed[1], signatures=indexed[2]))
