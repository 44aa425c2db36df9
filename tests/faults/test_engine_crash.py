"""The engine killed with SIGKILL in the middle of create, tier change and destroy, at points
taken from its own event stream; the next run repairs what it left and converges.

Each case: run the operation, SIGKILL the pulumi engine (and its plugins) when the chosen
resource event arrives, check the operation failed as ``EngineInterrupted`` and the state
was really left half done (a lock, pending operations), then run the operation again
with nothing done by hand and check ``faultlib.assert_converged`` / ``assert_gone``.

`make test` tries the first point of each operation on one store's life (bounded: a few
minutes); `make soak` (marker soak) tries all ten points of each operation.
"""

from __future__ import annotations

import gc
import uuid

import pytest
from faultlib import (CREATE_POINTS, DESTROY_POINTS, FIGURES, UPDATE_POINTS, EngineKiller, Point, assert_converged,
                      assert_gone, left_behind)

from storekit import EngineInterrupted, Storekit, StoreSpec
from storekit.errors import StoreNotFound

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def kit(settings, kube) -> Storekit:
    return Storekit(settings)


def _life(kit, kube, create: Point, update: Point, destroy: Point) -> dict:
    """One store: create, tier change and destroy, each killed at its point and run again."""
    spec = StoreSpec(name=f"Crash Shop {uuid.uuid4().hex[:6]}", admin_email="crash@example.com")
    figures = {"points": 0, "converged": 0, "orphans": 0, "duplicates": 0, "locks": 0, "pending": 0}
    try:
        for op, point, run, check in (
            ("create", create, lambda cb: kit.apply(spec, on_event=cb),
             lambda: assert_converged(kit, kube, spec)),
            ("update", update, lambda cb: kit.apply(spec.with_changes(tier="medium"), on_event=cb),
             lambda: assert_converged(kit, kube, spec.with_changes(tier="medium"))),
            ("destroy", destroy, lambda cb: kit.destroy(spec.name, on_event=cb),
             lambda: assert_gone(kit, kube, spec.slug)),
        ):
            killer = EngineKiller(point)
            with pytest.raises(EngineInterrupted):
                run(killer)
            assert killer.killed.is_set(), f"{op}: the point {point} never came (saw {killer.seen})"
            figures["points"] += 1
            FIGURES["crash points tried"] += 1
            left = left_behind(kit, spec.slug)
            locked, pending = left["lock"], left["pending"]
            figures["locks"] += locked
            figures["pending"] += pending
            FIGURES["left a lock"] += locked
            FIGURES["left pending operations"] += bool(pending)
            FIGURES["left a half-written state file"] += bool(left["broken"])
            run(None)  # the retry: nothing done by hand in between
            check()  # orphans and duplicate stacks fail it: the figures count only what passed
            figures["converged"] += 1
            FIGURES["converged on retry"] += 1
            events = [e.step for e in kit.catalog.events(spec.slug)]
            if locked or pending or left["broken"]:
                assert "Recovered" in events, f"{op}: the repair is on the store's timeline"
    finally:
        try:
            kit.destroy(spec.name)
        except StoreNotFound:
            pass
    return figures


def test_killed_engine_converges_on_retry_in_create_tier_change_and_destroy(kit, kube):
    figures = _life(kit, kube, CREATE_POINTS[0], UPDATE_POINTS[0], DESTROY_POINTS[0])
    assert figures["converged"] == figures["points"] == 3
    assert figures["locks"] + figures["pending"] > 0, "the crashes left something to repair"


@pytest.mark.soak
@pytest.mark.parametrize("i", range(1, 10))
def test_soak_killed_engine_at_every_point(kit, kube, i):
    figures = _life(kit, kube, CREATE_POINTS[i], UPDATE_POINTS[i], DESTROY_POINTS[i])
    assert figures["converged"] == figures["points"] == 3


def test_a_killed_engine_leaves_a_lock_the_retry_clears_on_postgresql(settings, kube, postgres):
    """Regression (bench/scale.py, 200 stores with the state on PostgreSQL, one worker
    SIGKILLed mid-create): the killed engine left the stack's lock in the postgres backend,
    and storekit looked for it under the wrong key (the backend's keys start with a folder,
    ``state/.pulumi/locks/...``) and in the wrong format (``{"data": base64}``). Nothing
    cleared it, so every retry met StoreBusy. Now the holder is read, seen dead, and the
    lock cancelled by the retry."""
    kit = Storekit(settings.replace(state_url=f"postgres://{postgres('state')}?sslmode=disable"))
    spec = StoreSpec(name=f"PG Crash {uuid.uuid4().hex[:6]}", admin_email="crash@example.com")
    try:
        killer = EngineKiller(CREATE_POINTS[0])
        with pytest.raises(EngineInterrupted):
            kit.apply(spec, on_event=killer)
        assert killer.killed.is_set(), f"the point never came (saw {killer.seen})"
        # The killed run's program coroutine is left unfinished; finalize it here, not inside
        # some later compile() (CPython 3.11: "AST constructor recursion depth mismatch").
        gc.collect()
        holder = kit.gateway.lock_holder(spec.slug)
        assert holder is not None and "(pid " in holder[0] and "?" not in holder[0], holder
        kit.apply(spec)  # the retry, nothing done by hand
        assert kit.gateway.lock_holder(spec.slug) is None
        assert "Recovered" in [e.step for e in kit.catalog.events(spec.slug)]
        assert_converged(kit, kube, spec)
    finally:
        try:
            kit.destroy(spec.name)
        except StoreNotFound:
            pass
