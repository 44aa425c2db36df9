"""The platform's Helm chart (charts/store-platform), checked with the real helm:
lint clean for every values file, the schema rejecting bad values, a server-side dry
run of the rendered manifests, install --wait / upgrade / rollback on the local
cluster, and least-privilege roles: the platform's ClusterRole writes only namespaces and
bindings of the store-manager role, which covers exactly the kinds the store program creates."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace, Secret

from storekit import Storekit, StoreSpec

pytestmark = pytest.mark.cluster  # the real helm (make tools), and the cluster for the last test
CHART = Path(__file__).resolve().parent.parent / "charts" / "store-platform"
VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}


@pytest.mark.parametrize("values", ["values.yaml", "values-local.yaml", "values-prod.yaml"])
def test_lint_is_clean(helm, values):
    out = helm("lint", str(CHART), "-f", str(CHART / values), "--strict")
    assert "0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("bad", ["replicas=-1", "image.pullPolicy=Sometimes", "platformDomain=Not A Host",
                                 "databaseUrl=mysql://x", "persistence.size=lots", "secrets.adminToken=short",
                                 "rateLimitStorage=memcached://x"])
def test_schema_rejects_bad_values(helm, bad):
    out = helm("template", "t", str(CHART), "--set", bad, check=False)
    assert out.returncode != 0 and "schema" in out.stderr


@pytest.mark.parametrize("scale", ["replicas=2", "workers.replicas=1"])
def test_more_than_one_process_needs_shared_catalog_and_state(helm, scale):
    out = helm("template", "t", str(CHART), "--set", scale, check=False)
    assert out.returncode != 0 and "need databaseUrl and stateUrl" in out.stderr
    shared = ("--set", "databaseUrl=postgresql://db/storekit,stateUrl=s3://bucket/storekit")
    assert helm("template", "t", str(CHART), "--set", scale, *shared, check=False).returncode == 0


def rendered(helm, *args) -> list[dict]:
    return [d for d in yaml.safe_load_all(helm("template", "t", str(CHART), *args).stdout) if d]


def test_database_urls_stay_out_of_the_pod_spec(helm):
    docs = rendered(helm, "--set", "databaseUrl=postgresql://u:pw-in-values-1@db/x,stateUrl=postgres://u:pw-in-values-2@db/y")
    for workload in (d for d in docs if d["kind"] in ("Deployment", "ConfigMap")):
        assert "pw-in-values" not in yaml.safe_dump(workload), workload["metadata"]["name"]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["STOREKIT_DB_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert env["STOREKIT_STATE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "state-url"
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert base64.b64decode(secret["data"]["database-url"]).decode().endswith("pw-in-values-1@db/x")


def _grants(role: dict) -> dict:
    granted: dict = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


def test_cluster_roles_cover_what_the_stack_creates(helm, settings):
    kit = Storekit(settings.replace(store_role="t-store-platform-store-manager", service_account="ns/t-store-platform"))
    plan = kit.plan(StoreSpec(name=f"RBAC {uuid.uuid4().hex[:4]}", admin_email="r@b.co"))
    needed = set()
    for change in plan.changes:  # e.g. kubernetes:networking.k8s.io/v1:NetworkPolicy
        group = change.type.split(":")[1].rsplit("/", 1)[0]
        group = "" if group == "core" else group
        plural = change.kind.lower()
        plural = plural[:-1] + "ies" if plural.endswith("y") else plural + ("es" if plural.endswith("s") else "s")
        needed.add((group, plural))
    roles = {d["metadata"]["name"]: d for d in rendered(helm) if d["kind"] == "ClusterRole"}
    platform, store = _grants(roles["t-store-platform"]), _grants(roles["t-store-platform-store-manager"])
    # Cluster-wide: the namespace itself and the binding inside it; the rest only through that binding.
    cluster_wide = {("", "namespaces"), ("rbac.authorization.k8s.io", "rolebindings")}
    assert cluster_wide <= needed, "the stack makes its namespace and binds the store role in it"
    for key in needed:
        assert VERBS <= (platform if key in cluster_wide else store).get(key, set()), f"no {sorted(VERBS)} on {key}"
    writes = {"create", "update", "patch", "delete"}
    assert {k for k, v in platform.items() if v & writes} == cluster_wide
    assert {k for k, v in store.items() if v & writes} == needed - cluster_wide, "no kind storekit never creates"
    assert platform[("rbac.authorization.k8s.io", "clusterroles")] == {"bind"}
    assert ("", "secrets") not in platform, "no Secret anywhere but in store namespaces"
    capacity = {("", "nodes"), ("", "persistentvolumes"), ("", "resourcequotas"), ("storage.k8s.io", "storageclasses")}
    assert all({"get", "list"} <= platform.get(k, set()) for k in capacity), "the capacity preview reads these"
    bind = next(r for r in roles["t-store-platform"]["rules"] if "bind" in r["verbs"])
    assert bind["resourceNames"] == ["t-store-platform-store-manager"]


def test_dry_run_install_upgrade_rollback(helm, kube, settings):
    ns = f"platform-{uuid.uuid4().hex[:5]}"
    kube.create(Namespace(metadata={"name": ns}))
    local = ("-n", ns, "-f", str(CHART / "values-local.yaml"))
    try:
        manifests = helm("template", "sp", str(CHART), *local).stdout
        dry = subprocess.run(["kubectl", "--kubeconfig", settings.kubeconfig, "apply", "--dry-run=server",
                              "-n", ns, "-f", "-"], input=manifests, capture_output=True, text=True)
        assert dry.returncode == 0 and "created (server dry run)" in dry.stdout, dry.stderr
        helm("install", "sp", str(CHART), *local, "--wait", "--timeout", "3m")
        secret = kube.get(Secret, "sp-store-platform", namespace=ns).data
        assert base64.b64decode(secret["admin-token"]).startswith(b"sk_")
        assert len(base64.b64decode(secret["passphrase"])) == 40
        dashboard = kube.get(Deployment, "sp-store-platform", namespace=ns)
        env = {e.name: e for e in dashboard.spec.template.spec.containers[0].env}
        assert env["STOREKIT_ADMIN_TOKEN"].valueFrom.secretKeyRef.key == "admin-token"
        assert env["STOREKIT_KUBECONFIG"].value == "in-cluster"
        assert env["STOREKIT_WEB_SECRET_KEY"].valueFrom.secretKeyRef.key == "session-key"
        assert env["STOREKIT_WEB_TRUSTED_PROXIES"].value == "1"
        assert len(base64.b64decode(secret["session-key"])) == 64
        helm("upgrade", "sp", str(CHART), *local, "--set", "concurrency=5", "--wait", "--timeout", "3m")
        assert kube.get(Secret, "sp-store-platform", namespace=ns).data == secret, "generated secrets are kept"
        history = json.loads(helm("history", "sp", "-n", ns, "-o", "json").stdout)
        assert [h["revision"] for h in history] == [1, 2]
        helm("rollback", "sp", "1", "-n", ns, "--wait", "--timeout", "3m")
        values = json.loads(helm("get", "values", "sp", "-n", ns, "-o", "json", "--all").stdout)
        assert values["concurrency"] == 3
        args = kube.get(Deployment, "sp-store-platform", namespace=ns).spec.template.spec.containers[0].args
        assert args[args.index("--workers") + 1] == "3"
    finally:
        helm("uninstall", "sp", "-n", ns, "--wait", check=False)
        kube.delete(Namespace, ns)
