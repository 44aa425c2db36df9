"""Crash recovery, the parts that need no cluster: what an interrupted engine run leaves in
a stack's state and how ``storekit.recovery`` resolves it; a killed engine classified as
``EngineInterrupted``; job leases that expire a bounded number of times; a lost catalog
connection told apart from other database errors. The same paths against the real
engine, cluster and PostgreSQL are in tests/faults/."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from peewee import IntegrityError, InterfaceError, OperationalError
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult

from storekit import jobs
from storekit.catalog import Catalog, utcnow
from storekit.catalog.resilient import lost_connection
from storekit.classify import exit_code, translate
from storekit.errors import EngineInterrupted, OperationFailed
from storekit.recorder import Actor
from storekit.recovery import kube_id, pending_operations, resolve_pending

STACK = "urn:pulumi:shop::storekit::pulumi:pulumi:Stack::storekit-shop"
PROVIDER = "urn:pulumi:shop::storekit::pulumi:providers:kubernetes::cluster"


def _resource(kind: str, name: str, *, namespace: str | None = "store-shop", api: str = "core/v1") -> dict:
    metadata = {"name": name, "labels": {"storekit.io/store": "shop"}}
    if namespace:
        metadata["namespace"] = namespace
    rtype = f"kubernetes:{api}:{kind}"
    return {"urn": f"urn:pulumi:shop::storekit::{rtype}::{name}", "custom": True, "type": rtype,
            "inputs": {"apiVersion": api.split(":")[-1], "kind": kind, "metadata": metadata},
            "parent": STACK, "provider": f"{PROVIDER}::04da6b54-80e4-46f7-96ec-b56ff0331ba9",
            "dependencies": []}


def _deployment() -> dict:
    quota = {**_resource("ResourceQuota", "store-quota"), "id": "store-shop/store-quota"}
    return {
        "manifest": {"version": "v3.274.1"},
        "resources": [{"urn": STACK, "custom": False, "type": "pulumi:pulumi:Stack"},
                      {"urn": PROVIDER, "custom": True, "id": "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
                       "type": "pulumi:providers:kubernetes"},
                      {**_resource("Namespace", "store-shop", namespace=None), "id": "store-shop"},
                      quota],
        "pending_operations": [
            {"resource": _resource("Deployment", "mysql", api="apps/v1"), "type": "creating"},
            {"resource": _resource("Secret", "store-credentials"), "type": "creating"},
            {"resource": copy.deepcopy(quota), "type": "updating"},
        ],
    }


def test_pending_creates_become_resources_with_the_providers_ids():
    before = _deployment()
    resolution = resolve_pending(before)
    after = resolution.deployment
    assert pending_operations(after) == []
    assert resolution.adopted == ["mysql", "store-credentials"]
    assert resolution.dropped == ["updating store-quota"]
    adopted = {r["urn"].rsplit("::", 1)[-1]: r for r in after["resources"][4:]}
    assert adopted["mysql"]["id"] == "store-shop/mysql"
    assert adopted["store-credentials"]["id"] == "store-shop/store-credentials"
    assert adopted["mysql"]["provider"].startswith(PROVIDER), "adopted objects keep their provider"
    assert [r["urn"] for r in after["resources"][:4]] == [r["urn"] for r in before["resources"]]
    assert len(before["pending_operations"]) == 3, "the input is not changed"


def test_a_pending_create_already_recorded_or_not_a_kubernetes_object_is_dropped():
    deployment = _deployment()
    deployment["pending_operations"] = [
        {"resource": {"urn": STACK, "type": "pulumi:pulumi:Stack", "custom": False}, "type": "creating"},
        {"resource": deployment["resources"][3], "type": "creating"},  # a replacement of a recorded one
        {"resource": _resource("Service", "wordpress"), "type": "deleting"},
    ]
    resolution = resolve_pending(deployment)
    assert resolution.adopted == []
    assert resolution.dropped == ["creating storekit-shop", "creating store-quota", "deleting wordpress"]
    assert len(resolution.deployment["resources"]) == 4


@pytest.mark.parametrize("resource, expected", [
    (_resource("Namespace", "store-shop", namespace=None), "store-shop"),
    (_resource("Ingress", "wordpress", api="networking.k8s.io/v1"), "store-shop/wordpress"),
    (_resource("ConfigMap", "loose", namespace=None), "default/loose"),
    ({"type": "pulumi:providers:kubernetes", "inputs": {}}, None),
    ({"type": "kubernetes:core/v1:Secret", "inputs": {"metadata": {}}}, None),
])
def test_kube_id(resource, expected):
    assert kube_id(resource) == expected


def _command_error(code: int) -> auto.CommandError:
    return auto.CommandError(CommandResult(stdout="Updating (shop):\n", stderr="", code=code))


def test_an_engine_killed_by_a_signal_is_interrupted_not_failed():
    assert exit_code(_command_error(-9)) == -9
    error = translate(_command_error(-9), "shop")
    assert isinstance(error, EngineInterrupted) and isinstance(error, OperationFailed)
    assert error.kind == "interrupted" and "signal 9" in error.message and "shop" in error.message
    assert error.http_status == 503
    assert not isinstance(translate(_command_error(255), "shop"), EngineInterrupted)


def _running_job(catalog: Catalog, *, attempts: int):
    job = catalog.jobs.enqueue("create", f"shop-{attempts}", actor="t", source="api", payload={})
    for _ in range(attempts):
        catalog.jobs.requeue(job.id)
        job = catalog.jobs.claim("host:1/0")
    catalog.jobs.heartbeat(job.id, at=utcnow() - timedelta(minutes=5))
    return job


def test_an_expired_lease_queues_the_job_again_until_its_last_attempt(tmp_path):
    catalog = Catalog.open(f"sqlite:///{tmp_path}/c.db")
    young, old = _running_job(catalog, attempts=1), _running_job(catalog, attempts=jobs.MAX_ATTEMPTS)
    assert (young.attempts, old.attempts) == (1, jobs.MAX_ATTEMPTS)
    taken = catalog.jobs.requeue_running(lambda j: True, max_attempts=jobs.MAX_ATTEMPTS)
    assert {j.id for j in taken} == {young.id, old.id}
    assert catalog.jobs.get(young.id).status == "queued"
    gave_up = catalog.jobs.get(old.id)
    assert gave_up.status == "failed" and f"attempt {jobs.MAX_ATTEMPTS} of {jobs.MAX_ATTEMPTS}" in gave_up.error


def test_a_job_whose_engine_was_killed_is_queued_again_then_fails(tmp_path, monkeypatch):
    catalog = Catalog.open(f"sqlite:///{tmp_path}/c.db")

    class Kit:  # run_job only needs the catalog; the operation itself is replaced below
        pass
    kit = Kit()
    kit.catalog = catalog

    def killed(kit, job, actor):
        raise translate(_command_error(-9), job.store)
    monkeypatch.setattr(jobs, "execute", killed)
    job = catalog.jobs.enqueue("create", "shop", actor="t", source="api", payload={})
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        job = catalog.jobs.claim("host:1/0")
        assert job.attempts == attempt
        with pytest.raises(EngineInterrupted):
            jobs.run_job(kit, job, Actor(name="t"), busy_requeues=True)
        expected = "failed" if attempt == jobs.MAX_ATTEMPTS else "queued"
        assert catalog.jobs.get(job.id).status == expected
    assert "killed (signal 9)" in catalog.jobs.get(job.id).error


@pytest.mark.parametrize("error, lost", [
    (OperationalError("server closed the connection unexpectedly\n\tThis probably means the server terminated"),
     True),
    (InterfaceError("connection already closed"), True),
    (OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused'), True),
    (OperationalError("FATAL:  the database system is starting up"), True),
    (OperationalError('relation "store" does not exist'), False),
    (IntegrityError("duplicate key value violates unique constraint"), False),
])
def test_only_a_lost_connection_is_waited_out(error, lost):
    assert lost_connection(error) is lost


def test_an_unreachable_cluster_is_named(tmp_path):
    from storekit.errors import ClusterUnreachable
    from storekit.settings import Settings
    from storekit.toolchain import describe_cluster

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\ncurrent-context: local\n"
                          "contexts: [{name: local, context: {cluster: storekit, user: admin}}]\n"
                          "clusters: [{name: storekit, cluster: {server: 'https://127.0.0.1:6443'}}]\n")
    cluster = describe_cluster(Settings.load().replace(kubeconfig=str(kubeconfig), context=None))
    assert cluster == "'storekit' at https://127.0.0.1:6443"
    refused = auto.CommandError(CommandResult(stdout="", code=255, stderr=(
        "error: update failed: dial tcp 127.0.0.1:6443: connect: connection refused")))
    error = translate(refused, "shop", cluster=cluster)
    assert isinstance(error, ClusterUnreachable)
    assert error.message == ("the Kubernetes cluster 'storekit' at https://127.0.0.1:6443 is unreachable while "
                             "changing store 'shop'")
    assert "again" in error.hint
    assert "kubeconfig" in describe_cluster(Settings.load().replace(kubeconfig=str(tmp_path / "none")))


def test_the_same_request_twice_joins_the_queued_job(tmp_path):
    from storekit.kit import Storekit
    from storekit.service import StoreService

    catalog = Catalog.open(f"sqlite:///{tmp_path}/c.db")
    service = StoreService(Storekit(catalog=catalog, home=str(tmp_path)))
    first = service.submit("update", "shop", Actor(name="a", source="api"), {"spec": {"tier": "medium"}})
    again = service.submit("update", "shop", Actor(name="b", source="web"), {"spec": {"tier": "medium"}})
    other = service.submit("update", "shop", Actor(name="c", source="api"), {"spec": {"tier": "large"}})
    assert again.id == first.id and other.id != first.id
    requested = catalog.audit_entries(store="shop", action="update-requested")
    assert [(e.actor, e.details.get("job"), e.details.get("joined")) for e in reversed(requested)] == [
        ("a", first.id, None), ("b", first.id, True), ("c", other.id, None)]
    catalog.jobs.claim("host:1/0")  # the first runs: a new request is queued behind it
    assert service.submit("update", "shop", Actor(name="d"), {"spec": {"tier": "medium"}}).id not in (first.id,
                                                                                                       other.id)


def test_a_half_written_state_file_is_cleaned_up(tmp_path):
    """Regression: an engine killed while the file:// backend saved a checkpoint left an empty
    ``.attrs`` sidecar, and every later command failed with "failed to load checkpoint: EOF"."""
    from storekit.recovery import repair_file_state

    (tmp_path / "shop.json").write_text("{}")
    (tmp_path / "shop.json.attrs").write_text("")
    (tmp_path / "shop.json.bak.attrs").write_text('{"md5": "x"}\n')
    (tmp_path / "shop.json.18ed42a5be7e87fb.tmp").write_text("{")
    (tmp_path / "shopping.json.attrs").write_text("")  # another store: not touched
    assert repair_file_state(tmp_path, "shop") == ["shop.json.18ed42a5be7e87fb.tmp", "shop.json.attrs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.json", "shop.json.bak.attrs", "shopping.json.attrs"]


def test_a_half_written_lock_file_is_cleaned_up(tmp_path):
    """Regression: a state disk that filled up while the engine took a stack's lock left an
    empty ``<id>.json.<hex>.tmp`` in its lock folder, and every later command on the stack
    failed with "unexpected end of JSON input" (tests/faults/test_full_disk.py)."""
    from storekit.recovery import repair_lock_files

    (tmp_path / "d5be6f55.json.18ed4b2797784132.tmp").write_text("")
    (tmp_path / "0aa1.json.18ed4b2797784133.tmp").write_text('{"pid": 1}')  # whole: a live writer's
    (tmp_path / "0aa1.json").write_text('{"pid": 1}')
    assert repair_lock_files(tmp_path) == ["d5be6f55.json.18ed4b2797784132.tmp"]
    assert repair_lock_files(tmp_path / "absent") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0aa1.json", "0aa1.json.18ed4b2797784133.tmp"]


def test_adopted_objects_get_back_the_field_manager_that_created_them():
    """Regression: an adopted PVC got a new random field manager, and growing it later failed
    with a server-side apply field conflict against the manager that created it."""
    from storekit.recovery import adopt_field_managers

    pvc = {**_resource("PersistentVolumeClaim", "wordpress-data"), "id": "store-shop/wordpress-data"}
    pvc["outputs"] = {"__fieldManager": "pulumi-kubernetes-new0001", "metadata": {"managedFields": [
        {"manager": "kube-controller-manager", "operation": "Update"},
        {"manager": "pulumi-kubernetes-abc12345", "operation": "Apply"}]}}
    kept = {**_resource("Secret", "store-credentials"), "id": "store-shop/store-credentials",
            "outputs": {"__fieldManager": "pulumi-kubernetes-def67890", "metadata": {"managedFields": [
                {"manager": "pulumi-kubernetes-def67890", "operation": "Apply"}]}}}
    fixed, names = adopt_field_managers({"resources": [pvc, kept]}, ["wordpress-data", "store-credentials"])
    assert names == ["wordpress-data"]
    assert fixed["resources"][0]["outputs"]["__fieldManager"] == "pulumi-kubernetes-abc12345"
    assert fixed["resources"][1]["outputs"]["__fieldManager"] == "pulumi-kubernetes-def67890"
    assert pvc["outputs"]["__fieldManager"] == "pulumi-kubernetes-new0001", "the input is not changed"


def test_an_expired_lease_is_taken_back_while_every_worker_is_busy(tmp_path):
    """Regression: leases were checked by workers between jobs, so with every worker busy
    a dead worker's job waited for one of them to finish (103 s in bench/scale.py)."""
    import time

    from storekit.kit import Storekit

    catalog = Catalog.open(f"sqlite:///{tmp_path}/c.db")
    job = _running_job(catalog, attempts=1)
    catalog.jobs.heartbeat(job.id)  # alive at start: only a later check can find it dead
    pool = jobs.WorkerPool(Storekit(catalog=catalog, home=str(tmp_path)), size=0, stale_after=1.0).start()
    assert catalog.jobs.get(job.id).status == "running"
    try:
        deadline = time.monotonic() + 10
        while catalog.jobs.get(job.id).status != "queued" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        pool.stop(timeout=5)
    assert catalog.jobs.get(job.id).status == "queued", "taken back with no worker free"


def test_a_job_put_back_because_its_store_was_busy_waits_behind_untried_jobs(tmp_path):
    """Regression (bench/scale.py, 200 stores, one worker SIGKILLed): the killed worker's job
    met its store's lock on every attempt and, as the oldest queued job, was taken again and
    again by every worker (186 attempts in 10 minutes) while no other store was made."""
    catalog = Catalog.open(f"sqlite:///{tmp_path}/c.db")
    first, second, third = (catalog.jobs.enqueue("create", f"shop-{i}", actor="t", source="api", payload={})
                            for i in range(3))
    assert catalog.jobs.claim("host:1/0").id == first.id
    catalog.jobs.requeue(first.id, error="store 'shop-0' is busy")
    assert [catalog.jobs.claim("host:1/0").id for _ in range(2)] == [second.id, third.id]
    assert catalog.jobs.claim("host:1/0").id == first.id, "it is still taken once nothing untried is left"
    orphan = catalog.jobs.enqueue("create", "shop-3", actor="t", source="api", payload={})
    later = catalog.jobs.enqueue("create", "shop-4", actor="t", source="api", payload={})
    assert catalog.jobs.claim("host:1/0").id == orphan.id
    catalog.jobs.requeue(orphan.id)  # its worker died: it keeps its place
    assert catalog.jobs.claim("host:1/0").id == orphan.id
    assert later.id > orphan.id
