"""Least privilege, for real (issue 12): storekit runs with nothing but the chart's RBAC.

The chart's ServiceAccount, ClusterRoles, ClusterRoleBinding and ValidatingAdmissionPolicy
are rendered by the real helm and applied to the local control plane; storekit then gets
a kubeconfig holding only that ServiceAccount's token (a TokenRequest, as a pod would
have). With it, a store is planned (its capacity preview reading nodes, volumes and quotas),
provisioned, changed (tier), restarted and destroyed, while in
a namespace storekit did not make, the same identity can neither read a Secret, nor bind
itself a role, nor label, change or delete the namespace.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import RoleRef, Subject
from lightkube.resources.core_v1 import Namespace, Secret
from lightkube.resources.rbac_authorization_v1 import RoleBinding

from storekit import Storekit, StoreSpec

pytestmark = pytest.mark.cluster
CHART = Path(__file__).resolve().parent.parent / "charts" / "store-platform"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy",
              "ValidatingAdmissionPolicyBinding"}


def kubectl(settings, *args, stdin: str | None = None) -> str:
    result = subprocess.run(["kubectl", "--kubeconfig", settings.kubeconfig, *args], input=stdin,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def token_kubeconfig(settings, path: Path, token: str) -> Path:
    """A kubeconfig for the same API server whose only credential is ``token``."""
    admin = yaml.safe_load(Path(settings.kubeconfig).read_text())
    cluster = admin["clusters"][0]["cluster"]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "platform",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": "platform", "user": {"token": token}}],
        "contexts": [{"name": "platform", "context": {"cluster": "local", "user": "platform"}}]}))
    path.chmod(0o600)
    return path


@pytest.fixture
def platform(helm, kube, settings, tmp_path):
    """The chart's RBAC applied for a fresh release; yields (release, namespace, kubeconfig)."""
    release = f"r{uuid.uuid4().hex[:6]}"
    namespace = f"platform-{release}"
    kube.create(Namespace(metadata=ObjectMeta(name=namespace)))
    docs = [d for d in yaml.safe_load_all(helm("template", release, str(CHART), "-n", namespace).stdout) if d]
    rbac = [d for d in docs if d["kind"] in RBAC_KINDS]
    assert {d["kind"] for d in rbac} == RBAC_KINDS
    manifest = yaml.safe_dump_all(rbac)
    kubectl(settings, "apply", "-n", namespace, "-f", "-", stdin=manifest)
    token = kubectl(settings, "create", "token", f"{release}-store-platform", "-n", namespace,
                    "--duration", "2h").strip()
    try:
        yield release, namespace, token_kubeconfig(settings, tmp_path / "platform.kubeconfig", token)
    finally:
        kubectl(settings, "delete", "--ignore-not-found", "--wait=false", "-n", namespace, "-f", "-", stdin=manifest)
        kube.delete(Namespace, namespace)


def forbidden(call) -> ApiError:
    with pytest.raises(ApiError) as e:
        call()
    assert e.value.status.code in (403, 422), e.value.status
    return e.value


def test_with_only_the_charts_rbac_a_store_lives_and_no_other_secret_is_readable(platform, kube, settings,
                                                                                  unique_name):
    release, namespace, kubeconfig = platform
    as_platform = Client(KubeConfig.from_file(kubeconfig))
    other = f"other-{unique_name}"
    kube.create(Namespace(metadata=ObjectMeta(name=other)))
    kube.create(Secret(metadata=ObjectMeta(name="db-password", namespace=other), stringData={"password": "x"}))
    kit = Storekit(settings.replace(kubeconfig=str(kubeconfig), context=None,
                                    store_role=f"{release}-store-platform-store-manager",
                                    service_account=f"{namespace}/{release}-store-platform"))
    spec = StoreSpec(name=f"RBAC {unique_name}", admin_email="rbac@example.com")
    try:
        plan = kit.plan(spec)  # its capacity preview reads nodes, volumes and quotas with the chart's rights
        assert plan.capacity is not None and plan.capacity.known, plan.capacity
        assert plan.capacity.fits and "fits (" in plan.capacity.text, plan.capacity.text
        assert kit.apply(plan).action == "create"  # a failure raises
        assert kit.health(spec.name).healthy
        assert kit.apply(spec.with_changes(tier="medium")).action == "update"
        assert kit.restart(spec.name, "wordpress").restarted
        # Its own store's Secrets: yes. Anyone else's: no.
        assert list(as_platform.list(Secret, namespace=spec.namespace))
        forbidden(lambda: as_platform.get(Secret, "db-password", namespace=other))
        forbidden(lambda: list(as_platform.list(Secret, namespace=other)))
        forbidden(lambda: list(as_platform.list(Secret, namespace="*")))
        forbidden(lambda: list(as_platform.list(Secret, namespace="kube-system")))
        # Nor can it widen its rights: bind the role elsewhere, adopt or remove a namespace.
        binding = RoleBinding(metadata=ObjectMeta(name="steal", namespace=other),
                              roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="ClusterRole",
                                              name=f"{release}-store-platform-store-manager"),
                              subjects=[Subject(kind="ServiceAccount", name=f"{release}-store-platform",
                                                namespace=namespace)])
        forbidden(lambda: as_platform.create(binding))
        admin_role = RoleBinding(metadata=ObjectMeta(name="steal", namespace=spec.namespace),
                                 roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="ClusterRole",
                                                 name="cluster-admin"), subjects=binding.subjects)
        forbidden(lambda: as_platform.create(admin_role))
        forbidden(lambda: as_platform.patch(Namespace, other, {"metadata": {"labels": {
            "app.kubernetes.io/managed-by": "storekit"}}}))
        forbidden(lambda: as_platform.delete(Namespace, other))
        forbidden(lambda: as_platform.create(Namespace(metadata=ObjectMeta(name=f"unlabelled-{unique_name}"))))
    finally:
        destroyed = kit.destroy(spec.name)
        kube.delete(Namespace, other)
    assert destroyed.action == "destroy"
