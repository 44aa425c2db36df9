"""Fleets through the library, against the local cluster: apply_many with bounded
parallelism where one store fails (its cause reported) and the others are created,
then destroyed again."""

from __future__ import annotations

import threading
import uuid

import pytest

from storekit import OperationFinished, OperationStarted, OperationTimeout, Storekit, StoreSpec

pytestmark = pytest.mark.cluster


def test_apply_many_isolates_a_failing_store(settings, kube):
    kit = Storekit(settings.replace(timeout=45))
    tag = uuid.uuid4().hex[:5]
    good = [StoreSpec(name=f"Fleet {tag} {i}", admin_email=f"owner{i}@example.com") for i in range(3)]
    # No controller admits an Ingress of a class that does not exist: this store times out.
    bad = StoreSpec(name=f"Fleet {tag} bad", admin_email="bad@example.com", ingress_class="no-such-class")
    running, peak, lock = set(), [0], threading.Lock()

    def watch(event):  # how many stores are being applied at once
        with lock:
            if isinstance(event, OperationStarted):
                running.add(event.store)
                peak[0] = max(peak[0], len(running))
            elif isinstance(event, OperationFinished):
                running.discard(event.store)

    try:
        result = kit.apply_many(good[:2] + [bad] + good[2:], parallel=3, on_event=watch)
        by_store = {i.store: i for i in result.items}
        assert len(result.items) == 4
        assert 2 <= peak[0] <= 3, peak
        assert [i.store for i in result.failed] == [bad.slug]
        failure = by_store[bad.slug]
        assert failure.error_kind == OperationTimeout.kind
        assert "did not become ready in time" in failure.error and "ingress" in failure.error, failure.error
        for spec in good:
            assert by_store[spec.slug].ok
            assert kit.outputs(spec.name).status == "ready"
        assert {s.slug for s in kit.list()} >= {s.slug for s in good}
        assert kit.catalog.store(bad.slug).status == "failed"
    finally:
        cleanup = kit.apply_many([kit.plan_destroy(s.name) for s in good + [bad]
                                  if s.slug in {x.slug for x in kit.list()}], parallel=3)
    assert cleanup.ok, [i.error for i in cleanup.failed]
    assert not {s.slug for s in good + [bad]} & {x.slug for x in kit.list()}
