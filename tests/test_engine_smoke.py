"""The foundation, proven: the real pulumi CLI and Kubernetes plugin against the local
control plane, through an inline Automation API program (no storekit stack code).

Covers: create with the provider's await logic on (PVC Bound, Deployment available with
its PVC, Service endpoints, Job complete), a no-change preview, a one-field update with
exactly that property in the diff, and destroy removing the namespace. Also that a
missing tool or a stopped cluster fails at once, naming the command that fixes it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest
from lightkube.core.exceptions import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Namespace, PersistentVolumeClaim, Secret, Service
from helpers import service_account_folder
from pulumi import automation as auto

from storekit import toolchain
from storekit.errors import ClusterUnreachable, ToolMissing
from storekit.toolchain import check_cluster, check_tools, pulumi_command, pulumi_env


def smoke_program(settings, namespace: str, params: dict):
    def program():
        provider = k8s.Provider("local", kubeconfig=settings.kubeconfig)
        opts = pulumi.ResourceOptions(provider=provider)
        ns = k8s.core.v1.Namespace("ns", metadata={"name": namespace}, opts=opts)
        meta = {"namespace": ns.metadata["name"]}
        secret = k8s.core.v1.Secret("secret", metadata={**meta, "name": "creds"},
                                    string_data={"password": "not-a-real-password"}, opts=opts)
        pvc = k8s.core.v1.PersistentVolumeClaim(
            "data", metadata={**meta, "name": "data"},
            spec={"access_modes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            opts=opts)
        labels = {"app": "web"}
        deployment = k8s.apps.v1.Deployment(
            "web", metadata={**meta, "name": "web", "labels": {"tier": params["tier"]}},
            spec={
                "replicas": params["replicas"],
                "selector": {"match_labels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [{
                            "name": "web", "image": "nginx:1.27",
                            "ports": [{"container_port": 80}],
                            "env": [{"name": "PASSWORD", "value_from": {"secret_key_ref": {
                                "name": secret.metadata["name"], "key": "password"}}}],
                            "volume_mounts": [{"name": "data", "mount_path": "/data"}],
                        }],
                        "volumes": [{"name": "data", "persistent_volume_claim": {
                            "claim_name": pvc.metadata["name"]}}],
                    },
                },
            }, opts=opts)
        k8s.core.v1.Service("web", metadata={**meta, "name": "web"},
                            spec={"selector": labels, "ports": [{"port": 80}]},
                            opts=pulumi.ResourceOptions(provider=provider, depends_on=[deployment]))
        k8s.batch.v1.Job("setup", metadata={**meta, "name": "setup"},
                         spec={"backoff_limit": 0, "template": {"spec": {
                             "restart_policy": "Never",
                             "containers": [{"name": "setup", "image": "busybox:1.36",
                                             "command": ["true"]}]}}},
                         opts=pulumi.ResourceOptions(provider=provider, depends_on=[deployment]))
    return program


def make_stack(settings, tmp_path: Path, name: str, program):
    work_dir = tmp_path / "work"
    work_dir.mkdir(exist_ok=True)
    return auto.create_or_select_stack(
        stack_name=name, project_name="storekit-smoke", program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            pulumi_command=pulumi_command(settings),
            env_vars={**pulumi_env(settings), "PULUMI_CONFIG_PASSPHRASE": settings.passphrase},
            project_settings=auto.ProjectSettings(
                name="storekit-smoke", runtime="python",
                backend=auto.ProjectBackend(url=settings.state_url)),
            secrets_provider="passphrase",
        ))


def gone(kube, res, name, namespace=None) -> bool:
    try:
        kube.get(res, name, namespace=namespace)
    except ApiError as e:
        return e.status.code == 404
    return False


@pytest.mark.cluster
def test_create_noop_update_destroy(settings, kube, tmp_path, unique_name):
    ns = f"smoke-{unique_name}"
    params = {"replicas": 1, "tier": "small"}
    stack = make_stack(settings, tmp_path, unique_name, smoke_program(settings, ns, params))
    try:
        up = stack.up(color="never")
        assert up.summary.result == "succeeded"
        assert up.summary.resource_changes["create"] == 8  # stack, provider, 6 objects

        # The objects exist in the API server, and the awaited ones are ready.
        assert kube.get(Namespace, ns).status.phase == "Active"
        assert kube.get(Secret, "creds", namespace=ns).type == "Opaque"
        assert kube.get(PersistentVolumeClaim, "data", namespace=ns).status.phase == "Bound"
        assert kube.get(Deployment, "web", namespace=ns).status.availableReplicas == 1
        assert kube.get(Service, "web", namespace=ns).spec.clusterIP
        assert kube.get(Job, "setup", namespace=ns).status.succeeded == 1

        # Nothing changed: the preview says so.
        preview = stack.preview(color="never")
        assert set(preview.change_summary) == {"same"}, preview.change_summary

        # One field changes: exactly one update, with that property in its diff.
        params["replicas"] = 2
        stack = make_stack(settings, tmp_path, unique_name, smoke_program(settings, ns, params))
        events = []
        preview = stack.preview(color="never", on_event=events.append)
        assert preview.change_summary.get("update") == 1, preview.change_summary
        updates = [e.resource_pre_event.metadata for e in events
                   if e.resource_pre_event and e.resource_pre_event.metadata.op.value == "update"]
        assert [m.type for m in updates] == ["kubernetes:apps/v1:Deployment"]
        assert "spec.replicas" in (updates[0].detailed_diff or {}) or "spec" in updates[0].diffs

        up = stack.up(color="never")
        assert up.summary.resource_changes.get("update") == 1
        assert kube.get(Deployment, "web", namespace=ns).status.availableReplicas == 2
    finally:
        destroyed = stack.destroy(color="never")
        stack.workspace.remove_stack(unique_name)
    assert destroyed.summary.result == "succeeded"
    assert gone(kube, Namespace, ns)


def test_missing_tool_names_the_fix(settings, tmp_path):
    broken = settings.replace(home=str(tmp_path), pulumi=str(tmp_path / "nope"))
    with pytest.raises(ToolMissing) as err:
        check_tools(broken)
    assert "make tools" in str(err.value)


def test_stopped_cluster_fails_fast_naming_the_fix(settings, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        "clusters: [{name: dead, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: dead, user: {token: x}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: dead}}]\n")
    with pytest.raises(ClusterUnreachable) as err:
        check_cluster(settings.replace(kubeconfig=str(kubeconfig)))
    assert "make cluster" in str(err.value)
    with pytest.raises(ClusterUnreachable) as err:
        check_cluster(settings.replace(kubeconfig=str(tmp_path / "missing")))
    assert "make cluster" in str(err.value)


@pytest.mark.cluster
def test_in_cluster_mode_uses_the_service_account_and_names_the_fix_outside_a_pod(
        settings, kube, tmp_path, monkeypatch):
    """STOREKIT_KUBECONFIG=in-cluster reads the token, CA and API address a pod gets; the
    image test runs the engine itself this way."""
    in_cluster = settings.replace(kubeconfig="in-cluster")
    assert in_cluster.in_cluster and not settings.in_cluster
    monkeypatch.setattr(toolchain, "SERVICE_ACCOUNT_DIR", str(tmp_path / "none"))
    with pytest.raises(ClusterUnreachable) as err:
        check_cluster(in_cluster)
    assert "not a pod" in err.value.message and "STOREKIT_KUBECONFIG" in err.value.hint

    # A real service account token of the local cluster, laid out as a pod sees it.
    folder = tmp_path / "sa"
    token = subprocess.run(["kubectl", "--kubeconfig", settings.kubeconfig, "-n", "default", "create", "token",
                            "default", "--duration", "10m"], capture_output=True, text=True, check=True).stdout
    host, port = service_account_folder(folder, settings.kubeconfig, token, "default")
    monkeypatch.setattr(toolchain, "SERVICE_ACCOUNT_DIR", str(folder))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    # The default service account may not read namespaces: the API answers, and refuses.
    with pytest.raises(ClusterUnreachable) as err:
        check_cluster(in_cluster)
    assert "refused storekit's credentials" in err.value.message
    assert toolchain.cluster_api(in_cluster)[0] == f"https://{host}:{port}"
