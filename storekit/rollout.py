"""Staged rollouts: a fleet plan applied in waves, each followed by a health gate.

``--waves 1,10%,50%,100%`` reads as cumulative sizes of the stores that change: a canary of
one store, then up to 10 %, 50 % and all of them (rounded up, each wave at least one new
store). Inside a wave at most ``max_unavailable`` stores change at once. After a wave, its
gate: every store of the wave healthy (its serving pods Ready, its volumes Bound) and, with
``gate="http"``, its home page answering, within ``bake`` seconds.

A failed wave (an apply error, or a gate that did not pass) halts the rollout: the stores
that failed are named, the later waves are left untouched, and the rollout can be resumed
(the failed stores are converged to their planned spec, then the rollout goes on) or rolled
back wave by wave (each store of the latest applied wave back to the spec it had before:
a store the rollout created is destroyed). The rollout lives in the catalog
(``catalog.rollouts``), so any process can show, resume or roll it back; every wave is
audited (``rollout-wave``) as are its start, halt, resume, rollback and end.
"""

from __future__ import annotations

import math
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable, Sequence

from .errors import PolicyViolation, SpecError, StorekitError
from .events import now_iso
from .plan import Plan
from .recorder import Actor
from .spec import StoreSpec

GATES = ("ready", "http")
_WAVE = re.compile(r"^([0-9]{1,6})(%?)$")


def parse_waves(text: str | Sequence, total: int) -> list[int]:
    """Cumulative wave sizes for ``total`` stores: "1,10%,50%,100%" over 12 -> [1, 2, 6, 12].
    The last wave always reaches every store; a wave adding no store is dropped."""
    items = [str(x).strip() for x in (text.split(",") if isinstance(text, str) else text)]
    if not items or any(not _WAVE.match(i) for i in items):
        raise SpecError([("waves", "must be counts or percentages separated by commas, like 1,10%,50%,100%")],
                        subject="rollout")
    sizes = []
    for item in items:
        number, percent = _WAVE.match(item).groups()
        n = int(number)
        if percent and not 0 < n <= 100 or not percent and n < 1:
            raise SpecError([("waves", f"{item}: a count is at least 1, a percentage 1% to 100%")], subject="rollout")
        sizes.append(min(total, math.ceil(total * n / 100) if percent else n))
    if sizes != sorted(sizes):
        raise SpecError([("waves", "must grow from wave to wave")], subject="rollout")
    out: list[int] = []
    for size in sizes + [total]:
        if size > (out[-1] if out else 0):
            out.append(size)
    return out


def split_waves(stores: Sequence[str], cumulative: Sequence[int]) -> list[list[str]]:
    bounds = [0, *cumulative]
    return [list(stores[a:b]) for a, b in zip(bounds, bounds[1:])]


@dataclass(frozen=True)
class RolloutOptions:
    waves: str = "1,10%,50%,100%"
    max_unavailable: int = 1
    bake: float = 60.0  # seconds a wave's stores have to pass the gate
    gate: str = "http"

    def check(self) -> "RolloutOptions":
        problems = []
        if not isinstance(self.max_unavailable, int) or self.max_unavailable < 1:
            problems.append(("max_unavailable", "must be a whole number of at least 1"))
        if not isinstance(self.bake, (int, float)) or not 0 <= self.bake <= 3600:
            problems.append(("bake", "must be 0 to 3600 seconds"))
        if self.gate not in GATES:
            problems.append(("gate", f"must be one of {', '.join(GATES)}"))
        if problems:
            raise SpecError(problems, subject="rollout")
        return self

    def to_dict(self) -> dict:
        return {"waves": self.waves, "max_unavailable": self.max_unavailable, "bake": self.bake, "gate": self.gate}


def previous_spec(plan: Plan) -> dict | None:
    """The spec a store had before ``plan`` (None for a store the plan creates)."""
    if plan.action == "create" or plan.spec is None:
        return None
    before = plan.spec.to_dict()
    for change in plan.spec_changes:
        if "." in change.field:
            head, key = change.field.split(".", 1)
            before[head] = {**before.get(head, {}), key: change.before}
        else:
            before[change.field] = change.before
    return before


class Rollouts:
    """Start, resume and roll back rollouts with ``kit``; ``progress(text)`` gets live lines,
    ``on_event`` the engine's events of each store."""

    def __init__(self, kit, *, actor: Actor | None = None, progress: Callable[[str], None] | None = None,
                 on_event=None):
        self.kit, self.actor = kit, actor or kit.actor
        self.progress, self.on_event = progress or (lambda text: None), on_event

    @property
    def repo(self):
        return self.kit.catalog.rollouts

    def _audit(self, action: str, rollout_id: int, details: dict, outcome_error: StorekitError | None = None):
        try:
            with self.kit.audited(action, f"rollout-{rollout_id}", f"rollout {rollout_id}", self.actor,
                                  {"rollout": rollout_id, **details}):
                if outcome_error is not None:
                    raise outcome_error  # recorded with outcome "failed"
        except _WaveFailed:
            pass

    def start(self, fleet, options: RolloutOptions):
        options.check()
        plans = [p for p in fleet.plans if p.has_changes]
        if not plans:
            raise SpecError([("fleet", "has no store to change: nothing to roll out")], subject="rollout")
        blocked = self.kit.governance.enforce(plans)
        if blocked:
            raise next(iter(blocked.values()))
        cumulative = parse_waves(options.waves, len(plans))
        waves = [{"number": i + 1, "stores": stores, "status": "pending", "failed": [], "started_at": None,
                  "finished_at": None} for i, stores in enumerate(split_waves([p.store for p in plans], cumulative))]
        record = self.repo.create(actor=self.actor.name, source=self.actor.source, options=options.to_dict(),
                                  waves=waves, plans={p.store: p.to_dict() for p in plans},
                                  previous={p.store: previous_spec(p) for p in plans})
        self._audit("rollout-started", record.id, {"waves": [len(w["stores"]) for w in waves],
                                                   "stores": len(plans), **options.to_dict()})
        self.progress(f"Rollout {record.id}: {len(plans)} stores in {len(waves)} waves "
                      f"({', '.join(str(len(w['stores'])) for w in waves)}), at most {options.max_unavailable} at once")
        return self.run(record.id)

    def resume(self, rollout_id: int):
        record = self._get(rollout_id)
        if record.status != "halted":
            raise SpecError([("rollout", f"is {record.status}; only a halted rollout resumes")], subject="rollout")
        self._audit("rollout-resumed", rollout_id, {})
        self.repo.update(rollout_id, status="running", message=None)
        return self.run(rollout_id)

    def _get(self, rollout_id: int):
        record = self.repo.get(rollout_id)
        if record is None:
            raise SpecError([("rollout", f"no rollout {rollout_id}")], subject="rollout")
        return record

    def run(self, rollout_id: int):
        record = self._get(rollout_id)
        options = RolloutOptions(**record.options)
        waves = [dict(w) for w in record.waves]
        for wave in waves:
            if wave["status"] == "passed":
                continue
            resumed = wave["status"] == "failed"
            wave.update(status="applying", started_at=wave["started_at"] or now_iso(), failed=[])
            self.repo.update(rollout_id, waves=waves)
            self.progress(f"Wave {wave['number']}/{len(waves)}: applying {len(wave['stores'])} stores"
                          f"{' (resumed)' if resumed else ''}: {', '.join(wave['stores'])}")
            items = [self._item(record.plans[s], resumed) for s in wave["stores"]]
            result = self.kit.apply_many(items, parallel=options.max_unavailable, on_event=self.on_event)
            failed = [{"store": i.store, "reason": i.error} for i in result.failed]
            applied = [i.store for i in result.items if i.ok]
            if applied:
                wave["status"] = "gating"
                self.repo.update(rollout_id, waves=waves)
                self.progress(f"Wave {wave['number']}: gate ({options.gate}) for up to {options.bake:g}s")
                failed += self.gate(applied, options)
            wave.update(status="failed" if failed else "passed", failed=failed, finished_at=now_iso())
            self._audit("rollout-wave", rollout_id, {"wave": wave["number"], "stores": wave["stores"],
                                                     "failed": [f["store"] for f in failed]},
                        None if not failed else _WaveFailed(wave["number"], failed))
            if failed:
                message = f"wave {wave['number']} failed: " + "; ".join(f"{f['store']}: {f['reason']}" for f in failed)
                self.progress(f"Rollout {rollout_id} HALTED: {message}. Untouched: "
                              f"{sum(len(w['stores']) for w in waves if w['status'] == 'pending')} stores.")
                self._audit("rollout-halted", rollout_id, {"wave": wave["number"]})
                return self.repo.update(rollout_id, waves=waves, status="halted", message=message)
            self.progress(f"Wave {wave['number']}/{len(waves)} passed.")
            self.repo.update(rollout_id, waves=waves)
        self._audit("rollout-finished", rollout_id, {"stores": sum(len(w["stores"]) for w in waves)})
        self.progress(f"Rollout {rollout_id} done: {sum(len(w['stores']) for w in waves)} stores in {len(waves)} waves.")
        return self.repo.update(rollout_id, waves=waves, status="done", message=None)

    @staticmethod
    def _item(doc: dict, resumed: bool):
        plan = Plan.from_dict(doc)
        # A failed store's state moved since its plan was made: converge it to the planned spec.
        return plan.spec if resumed and plan.spec is not None else plan

    def gate(self, stores: Sequence[str], options: RolloutOptions) -> list[dict]:
        """The stores that are not healthy (and, for ``http``, answering) within the bake time."""
        deadline = time.monotonic() + options.bake
        waiting = {s: "not checked yet" for s in stores}
        while True:
            for slug in list(waiting):
                reason = self.check(slug, options.gate)
                if reason is None:
                    del waiting[slug]
                else:
                    waiting[slug] = reason
            if not waiting or time.monotonic() >= deadline:
                return [{"store": s, "reason": f"gate: {r}"} for s, r in waiting.items()]
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))

    def check(self, slug: str, gate: str) -> str | None:
        """Why a store does not pass the gate, or None."""
        try:
            health = self.kit.health(slug)
        except StorekitError as e:
            return e.message
        if not health.healthy:
            waiting = [p.name for p in health.pods if not p.ready] + [v.name for v in health.volumes
                                                                         if v.phase != "Bound"]
            return f"not ready ({', '.join(waiting) or 'no serving pods'})"
        if gate == "http":
            url = self.kit.outputs(slug).url
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (the store's own URL)
                    if response.status >= 500:
                        return f"home page {url} answered {response.status}"
            except urllib.error.HTTPError as e:
                if e.code >= 500:
                    return f"home page {url} answered {e.code}"
            except (urllib.error.URLError, OSError) as e:
                return f"home page {url} does not answer ({getattr(e, 'reason', e)})"
        return None

    def rollback(self, rollout_id: int, *, all_waves: bool = False):
        """Undo the latest applied wave (every applied wave with ``all_waves``): each store
        back to its previous spec; a store the rollout created is destroyed."""
        record = self._get(rollout_id)
        if record.status == "running":
            raise SpecError([("rollout", "is running; halt it first (it halts on a failed wave)")],
                            subject="rollout")
        waves = [dict(w) for w in record.waves]
        touched = [w for w in waves if w["status"] in ("passed", "failed")]
        if not touched:
            raise SpecError([("rollout", "has no applied wave to roll back")], subject="rollout")
        for wave in reversed(touched if all_waves else touched[-1:]):
            self.progress(f"Rolling back wave {wave['number']}: {', '.join(wave['stores'])}")
            failed = []
            for slug in wave["stores"]:
                before = record.previous.get(slug)
                try:
                    if before is None:
                        self.kit.destroy(slug, actor=self.actor)
                    else:
                        self.kit.apply(StoreSpec.from_dict(before), actor=self.actor, on_event=self.on_event)
                except StorekitError as e:
                    failed.append({"store": slug, "reason": e.message})
            wave.update(status="rolled-back" if not failed else "failed", failed=failed, finished_at=now_iso())
            self._audit("rollout-rollback", rollout_id, {"wave": wave["number"], "stores": wave["stores"],
                                                         "failed": [f["store"] for f in failed]})
            self.repo.update(rollout_id, waves=waves)
            if failed:
                return self.repo.update(rollout_id, status="halted",
                                        message=f"rollback of wave {wave['number']} failed")
        done = all(w["status"] in ("rolled-back", "pending") for w in waves)
        return self.repo.update(rollout_id, status="rolled-back" if done else "halted",
                                message=None if done else "rolled back in part")


class _WaveFailed(StorekitError):
    """Marks a wave's audit entry as failed (never raised out of the runner)."""

    kind = "wave_failed"

    def __init__(self, number: int, failed: list[dict]):
        super().__init__(f"wave {number}: {len(failed)} stores failed")


__all__ = ["GATES", "PolicyViolation", "RolloutOptions", "Rollouts", "parse_waves", "split_waves"]
