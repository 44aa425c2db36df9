"""The engine-free no-op plan's pieces (storekit.baseline, storekit.kubelist) that need no
cluster: keys and kinds, the fingerprint of a program's inputs, the baseline file, and the
metadata LIST over real HTTP against a small local server. The plan decisions themselves
are tested against the local cluster (test_fast_plan.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from storekit import baseline
from storekit.baseline import Baseline, api_version_of, index
from storekit.kubelist import Unsupported, lister
from storekit.settings import Settings


@pytest.fixture
def settings(tmp_path):
    return Settings.load(environ={"STOREKIT_HOME": str(tmp_path)})


def test_api_versions_of_resource_types():
    assert api_version_of("kubernetes:apps/v1:Deployment") == ("apps/v1", "Deployment")
    assert api_version_of("kubernetes:core/v1:Namespace") == ("v1", "Namespace")
    assert api_version_of("kubernetes:networking.k8s.io/v1:Ingress") == ("networking.k8s.io/v1", "Ingress")
    assert api_version_of("kubernetes:example.com/v1:Widget") is None  # unknown kind: no fast path
    assert api_version_of("pulumi:providers:kubernetes") is None


def test_index_of_engine_outputs():
    outputs = [("cluster", "pulumi:providers:kubernetes", {}),
               ("namespace", "kubernetes:core/v1:Namespace", {"metadata": {"name": "store-a", "resourceVersion": "5"}}),
               ("mysql", "kubernetes:apps/v1:Deployment",
                {"metadata": {"name": "mysql", "namespace": "store-a", "resourceVersion": "9"}})]
    objects, names, signatures = index(outputs)
    assert signatures == {"v1|Namespace||store-a": None, "apps/v1|Deployment|store-a|mysql": None}  # no SSA entry
    assert objects == {"v1|Namespace||store-a": "5", "apps/v1|Deployment|store-a|mysql": "9"}
    assert names["apps/v1|Deployment|store-a|mysql"] == ["mysql", "kubernetes:apps/v1:Deployment"]
    assert index(outputs + [("x", "kubernetes:core/v1:Secret", {"metadata": {"name": "x"}})]) is None
    assert index([("w", "kubernetes:example.com/v1:Widget", {"metadata": {"name": "w", "resourceVersion": "1"}})]) is None


def test_fingerprint_follows_spec_settings_and_engine_source(settings, tmp_path):
    source = tmp_path / "engine.py"
    source.write_text("program = 1\n")
    spec = {"name": "A", "tier": "small"}
    first = baseline.fingerprint(spec, settings, str(source))
    assert first == baseline.fingerprint(dict(spec), settings, str(source))
    assert first != baseline.fingerprint({**spec, "tier": "medium"}, settings, str(source))
    assert first != baseline.fingerprint(spec, settings.replace(timeout=999), str(source))
    # Settings only the programs read (the setup Job's environment, the pods' node pool) count too.
    assert first != baseline.fingerprint(spec, settings.replace(woocommerce_optional=not settings.woocommerce_optional),
                                         str(source))
    assert first != baseline.fingerprint(spec, settings.replace(node_pool="elsewhere"), str(source))
    # An engine in a package: its sibling modules and assets are its code too.
    package = tmp_path / "stacks"
    (package / "engine").mkdir(parents=True)
    for name in ("__init__.py", "engine/__init__.py", "kube.py"):
        (package / name).write_text("")
    (package / "engine" / "program.py").write_text("PROGRAM = 1\n")
    before = baseline.fingerprint(spec, settings, str(package / "engine" / "program.py"))
    (package / "kube.py").write_text("SHARED = 2\n")
    assert before != baseline.fingerprint(spec, settings, str(package / "engine" / "program.py"))
    assert first == baseline.fingerprint(spec, settings.replace(parallel=9), str(source))  # not read by programs
    source.write_text("program = 2\n")
    assert first != baseline.fingerprint(spec, settings, str(source))
    assert baseline.fingerprint(spec, settings, str(tmp_path / "gone.py")) is None


def test_baseline_file_round_trip(settings):
    b = Baseline(store="a", fingerprint="sha256:x", spec={"name": "A"}, engine_file="/e.py",
                 objects={"v1|Namespace||store-a": "5"}, names={"v1|Namespace||store-a": ["namespace", "t"]},
                 signatures={"v1|Namespace||store-a": None})
    assert baseline.load(settings, "a") is None
    baseline.save(settings, b)
    assert baseline.load(settings, "a") == b and b.digest.startswith("baseline:")
    assert baseline.load(settings, "b") is None
    baseline.discard(settings, "a")
    assert baseline.load(settings, "a") is None


PLUGIN = {"manager": "pulumi-kubernetes-90b660c9", "operation": "Apply", "apiVersion": "apps/v1",
          "time": "2026-12-01T23:51:35Z", "fieldsType": "FieldsV1",
          "fieldsV1": {"f:metadata": {"f:labels": {"f:storekit.io/store": {}}},
                       "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"wordpress"}': {
                           ".": {}, "f:image": {}}}}}}}}
STATUS = {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
          "time": "2026-12-01T23:52:00Z", "fieldsType": "FieldsV1",
          "fieldsV1": {"f:status": {"f:conditions": {'k:{"type":"Available"}': {".": {}}}}}}
REVISION = {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-12-01T23:51:36Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}}}
SIDECAR = {"manager": "kubectl-patch", "operation": "Update", "time": "2026-12-02T01:00:00Z", "fieldsType": "FieldsV1",
           "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"side"}': {".": {}}}}}}}}


def deployment_meta(rv: str, *entries: dict, uid: str = "u1") -> dict:
    return {"name": "wordpress", "namespace": "store-a", "resourceVersion": rv, "uid": uid,
            "managedFields": list(entries)}


def test_signatures_admit_controller_writes_and_nothing_else():
    """An object whose resourceVersion moved matches when only status, or another manager's
    map fields and scalars, changed; not when the plugin's entry changed (a value it set
    was changed or removed), the object was replaced, or someone owns list elements."""
    k = "apps/v1|Deployment|store-a|wordpress"
    recorded = deployment_meta("10", PLUGIN)
    b = Baseline(store="a", fingerprint="f", spec={}, engine_file="", objects={k: "10"}, names={k: ["w", "t"]},
                 signatures={k: baseline.signature(recorded)})
    found = lambda meta: {k: (meta["resourceVersion"], baseline.signature(meta))}  # noqa: E731
    assert baseline.matches(b, found(recorded))
    assert baseline.matches(b, found(deployment_meta("14", PLUGIN, STATUS, REVISION)))  # controllers after the apply
    moved = {**PLUGIN, "fieldsV1": {"f:metadata": {"f:labels": {"f:storekit.io/store": {}}}}}  # image taken over
    assert not baseline.matches(b, found(deployment_meta("15", moved, {**REVISION, "manager": "kubectl-edit"})))
    assert not baseline.matches(b, found(deployment_meta("16", PLUGIN, SIDECAR)))  # a list element: positions
    assert not baseline.matches(b, found(deployment_meta("17", PLUGIN, uid="u2")))  # deleted and created again
    assert not baseline.matches(b, found(deployment_meta("18", {**PLUGIN, "time": "2026-12-02T02:00:00Z"})))
    assert not baseline.matches(b, {**found(recorded), "v1|Secret|store-a|extra": ("3", None)})
    assert not baseline.matches(b, None)
    no_ssa = Baseline(**{**b.__dict__, "signatures": {k: None}})  # nothing owned by apply: the version alone
    assert baseline.matches(no_ssa, found(recorded))
    assert not baseline.matches(no_ssa, found(deployment_meta("14", PLUGIN, STATUS)))
    assert baseline.signature(deployment_meta("1", STATUS)) is None


class Api(BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server's name
        Api.seen.append((self.path, self.headers.get("Accept"), self.headers.get("Authorization")))
        body = json.dumps({"kind": "PartialObjectMetadataList", "items": [
            {"metadata": {"name": "mysql", "namespace": "store-a", "resourceVersion": "9"}}]}).encode()
        self.send_response(200 if "deployments" in self.path else 403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_metadata_list_over_http(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}]}))
    try:
        client = lister(str(kubeconfig), None)
        found = client.list("/apis/apps/v1/namespaces/store-a/deployments", "storekit.io/store=a")
        assert found == {("store-a", "mysql"): {"name": "mysql", "namespace": "store-a", "resourceVersion": "9"}}
        path, accept, auth = Api.seen[-1]
        assert path.endswith("?labelSelector=storekit.io/store%3Da") and "PartialObjectMetadataList" in accept
        assert auth == "Bearer t0ken"
        with pytest.raises(Unsupported):
            client.list("/api/v1/namespaces/store-a/secrets", "storekit.io/store=a")  # 403
        client.close()
    finally:
        server.shutdown()


def test_credential_plugins_are_left_to_the_engine(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"exec": {"command": "aws"}}}]}))
    with pytest.raises(Unsupported):
        lister(str(kubeconfig), None)
    with pytest.raises(Unsupported):
        lister(str(tmp_path / "missing"), None)
