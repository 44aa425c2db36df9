"""A Medusa store's life through the library, against the local control plane (simulated
nodes) with the real pulumi CLI and Kubernetes plugin.

One store for the module: plan (what a new store gets), apply (every object, labelled, in
its namespace, awaited: PostgreSQL and Medusa available, the setup Job complete, the
Ingress admitted; the timeline's Medusa steps), outputs (the admin logs in by email; the
publishable key is a secret output), a no-change plan, health, logs and restart of its
components, a password reset (the Secret changes and the setup Job runs again), a tier
change (sizes only; volumes and secrets kept), and destroy (namespace and stack gone).
On simulated nodes no container runs: that Medusa really sells is test_medusa_app.py's
and test_medusa_images.py's part.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from click.testing import CliRunner
from lightkube.core.exceptions import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import (LimitRange, Namespace, PersistentVolumeClaim, ResourceQuota, Secret,
                                         Service)
from lightkube.resources.networking_v1 import Ingress, NetworkPolicy

from storekit import ResourceFinished, SpecError, Storekit, StoreNotFound, StoreSpec
from storekit.cli.main import cli

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def kit(settings, kube) -> Storekit:
    return Storekit(settings)


@pytest.fixture(scope="module")
def store(kit, kube):
    spec = StoreSpec(name=f"Medusa Shop {uuid.uuid4().hex[:6]}", admin_email="owner@example.com", engine="medusa")
    spec, _ = kit.resolve(spec)  # the platform's store domain, ingress class, ... filled in
    plan = kit.plan(spec)
    events = []
    result = kit.apply(spec, on_event=events.append)
    yield spec, plan, result, events
    try:
        kit.destroy(spec.name)
    except StoreNotFound:
        pass


def _secret(kube, ns: str) -> dict[str, str]:
    data = kube.get(Secret, "store-credentials", namespace=ns).data
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def test_plan_and_apply_make_a_medusa_store(store, kube):
    spec, plan, result, events = store
    assert plan.summary.add == 13 and plan.action == "create"
    assert result.action == "create" and result.summary["add"] == 13
    ns = spec.namespace
    for kind, name in [(NetworkPolicy, "default-deny-ingress"), (ResourceQuota, "store-quota"),
                       (LimitRange, "store-limits"), (Secret, "store-credentials"),
                       (PersistentVolumeClaim, "postgres-data"), (PersistentVolumeClaim, "medusa-data"),
                       (Deployment, "postgres"), (Service, "postgres"), (Job, "medusa-setup"),
                       (Deployment, "medusa"), (Service, "medusa"), (Ingress, "medusa")]:
        obj = kube.get(kind, name, namespace=ns)
        assert obj.metadata.labels["storekit.io/store"] == spec.slug, name
        assert obj.metadata.labels["app.kubernetes.io/managed-by"] == "storekit", name
    assert kube.get(Namespace, ns).metadata.labels["storekit.io/store"] == spec.slug
    assert kube.get(Deployment, "postgres", namespace=ns).status.availableReplicas == 1
    assert kube.get(Deployment, "medusa", namespace=ns).status.availableReplicas == 1
    assert kube.get(Job, "medusa-setup", namespace=ns).status.succeeded == 1
    ingress = kube.get(Ingress, "medusa", namespace=ns)
    assert ingress.spec.rules[0].host == spec.host and ingress.status.loadBalancer.ingress
    server = kube.get(Deployment, "medusa", namespace=ns).spec.template.spec.containers[0]
    assert server.image == "storekit.local/medusa:2.21.2" and server.resources.limits["memory"] == "1Gi"
    secret = _secret(kube, ns)
    assert set(secret) == {"postgres-password", "admin-password", "jwt-secret", "cookie-secret", "publishable-key"}
    assert secret["publishable-key"].startswith("pk_")
    finished = {e.resource: e.step for e in events if isinstance(e, ResourceFinished)}
    assert set(finished.values()) >= {"Namespace", "Isolation", "Secrets", "PostgreSQL", "Setup", "Medusa", "Ingress"}
    order = [e.resource for e in events if isinstance(e, ResourceFinished)]
    assert order.index("medusa-setup") < order.index("medusa"), "the server starts on a migrated database"


def test_outputs_name_the_store_the_admin_and_keep_secrets_out(kit, store, kube):
    spec, _, result, _ = store
    out = result.outputs
    assert out.engine == "medusa" and out.url == f"http://{spec.host}"
    assert out.admin_url == f"http://{spec.host}/app" and out.admin_user == "owner@example.com"
    shown = str(result.to_dict())
    secret = _secret(kube, spec.namespace)
    assert secret["publishable-key"] not in shown and secret["admin-password"] not in shown
    assert kit.reveal_admin_password(spec.name) == secret["admin-password"]
    assert out.secret_outputs == ("publishable_key",)
    assert kit.reveal_outputs(spec.name) == {"admin_password": secret["admin-password"],
                                             "publishable_key": secret["publishable-key"]}


def test_the_cli_shows_the_publishable_key_only_with_reveal(settings, store, kube, monkeypatch):
    spec = store[0]
    for var, value in (("STATE_URL", settings.state_url), ("DB_URL", settings.db_url),
                       ("PASSPHRASE", settings.passphrase)):
        monkeypatch.setenv(f"STOREKIT_{var}", value)
    key = _secret(kube, spec.namespace)["publishable-key"]

    def outputs(*options):
        result = CliRunner().invoke(cli, ["outputs", spec.name, *options], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output
    shown = outputs()
    assert key not in shown and "publishable_key: (secret: --reveal shows it)" in shown
    assert key not in outputs("--json") and json.loads(outputs("--json"))["secret_outputs"] == ["publishable_key"]
    assert f"publishable_key:{key}" in outputs("--reveal").replace(" ", "")
    assert json.loads(outputs("--reveal", "--json"))["publishable_key"] == key


def test_no_changes_right_after_create(kit, store):
    plan = kit.plan(store[0])
    assert not plan.has_changes, [c.to_dict() for c in plan.changes if c.op != "same"]


def test_health_logs_and_restart_know_medusa_components(kit, store):
    spec = store[0]
    health = kit.health(spec.name)
    assert health.healthy and {p.component for p in health.pods} >= {"medusa", "postgres"}
    assert any("Server is ready" in line for line in kit.logs(spec.name, tail=20)), "medusa is the default"
    assert any("store ready" in line for line in kit.logs(spec.name, "medusa-setup"))
    with pytest.raises(SpecError, match="must be one of all, medusa, postgres"):
        kit.restart(spec.name, "wordpress")
    assert kit.restart(spec.name, "medusa").restarted == ("medusa",)


def test_password_reset_reruns_the_setup_job(kit, store, kube):
    spec = store[0]
    before = kube.get(Job, "medusa-setup", namespace=spec.namespace).metadata.uid
    password = kit.reset_admin_password(spec.name)
    assert _secret(kube, spec.namespace)["admin-password"] == password
    job = kube.get(Job, "medusa-setup", namespace=spec.namespace)
    assert job.metadata.uid != before and job.status.succeeded == 1


def test_tier_change_resizes_and_keeps_volumes_and_secrets(kit, store, kube):
    spec = store[0]
    secrets = _secret(kube, spec.namespace)
    claim = kube.get(PersistentVolumeClaim, "postgres-data", namespace=spec.namespace).metadata.uid
    plan = kit.plan(spec.with_changes(tier="medium"))
    assert {c.name for c in plan.changes if c.op != "same"} == {
        "resource-quota", "limit-range", "medusa", "postgres", "medusa-data", "postgres-data"}
    assert all(c.op == "update" for c in plan.changes if c.op != "same")
    kit.apply(plan)
    assert kube.get(PersistentVolumeClaim, "postgres-data", namespace=spec.namespace).metadata.uid == claim
    assert _secret(kube, spec.namespace) == secrets


def test_destroy_removes_everything(kit, store, kube):
    spec = store[0]
    assert kit.destroy(spec.name).action == "destroy"
    with pytest.raises(ApiError) as err:
        kube.get(Namespace, spec.namespace)
    assert err.value.status.code == 404
    assert spec.slug not in {s.slug for s in kit.list()}
    with pytest.raises(StoreNotFound):
        kit.outputs(spec.name)
