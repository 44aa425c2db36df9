"""One data, many renderers: the catalog follows events (CatalogRecorder), the timeline folds
them into one line per engine step, and a plan reads the same in text, HTML and JSON.
Fast: no tools; the events are the ones an apply emits, in its order."""

from __future__ import annotations

import html
import re

from helpers import web_app

from storekit.catalog import Catalog
from storekit.engines import get_engine
from storekit.events import (Audited, OperationFinished, OperationStarted, ResourceFailed, ResourceFinished,
                             ResourceStarted)
from storekit.plan import Plan, PropertyChange, ResourceChange
from storekit.recorder import CatalogRecorder
from storekit.results import StoreOutputs
from storekit.spec import StoreSpec
from storekit.timeline import build_timeline
from storekit.views import plan_view, timeline_view

ENGINE = get_engine("woocommerce")
RESOURCES = [("namespace", "kubernetes:core/v1:Namespace"), ("resource-quota", "kubernetes:core/v1:ResourceQuota"),
             ("credentials", "kubernetes:core/v1:Secret"), ("mysql", "kubernetes:apps/v1:Deployment"),
             ("wordpress", "kubernetes:apps/v1:Deployment"), ("woocommerce-setup", "kubernetes:batch/v1:Job"),
             ("ingress", "kubernetes:networking.k8s.io/v1:Ingress")]


def apply_events(slug, spec, *, upto=len(RESOURCES), fail=None):
    yield OperationStarted(store=slug, operation="apply", spec=spec, steps=tuple(ENGINE.step_names))
    for name, rtype in RESOURCES[:upto]:
        base = dict(store=slug, resource=name, type=rtype, op="create", step=ENGINE.step_of(rtype, name))
        yield ResourceStarted(**base)
        if name == fail:
            yield ResourceFailed(**base, seconds=3.0, message="timed out")
            yield OperationFinished(store=slug, operation="apply", ok=False, seconds=9.0, message="timed out")
            return
        yield ResourceFinished(**base, seconds=1.5)
    if upto == len(RESOURCES):
        outputs = StoreOutputs(name=spec.name, slug=slug, namespace=spec.namespace, url="http://x", admin_url="http://x/a",
                               admin_user="admin", engine="woocommerce", tier="small", status="ready")
        yield OperationFinished(store=slug, operation="apply", seconds=12.0, outputs=outputs)


def recorded(tmp_path, events):
    catalog = Catalog.open(f"sqlite:///{tmp_path}/v.db")
    recorder = CatalogRecorder(lambda: catalog)
    for event in events:
        recorder(event)
    return catalog


def test_the_catalog_follows_an_applys_events(tmp_path):
    spec = StoreSpec(name="Event Shop", admin_email="a@b.co")
    catalog = recorded(tmp_path, apply_events(spec.slug, spec))
    store = catalog.store(spec.slug)
    assert (store.status, store.url, store.provisioned_at is not None) == ("ready", "http://x", True)
    recorder = CatalogRecorder(lambda: catalog)
    recorder(Audited(store=spec.slug, action="apply", actor="alice", source="cli", details={"admin_password": "x"}))
    assert catalog.audit_entries()[0].details == {"admin_password": "(sensitive)"}


def test_the_timeline_has_one_line_per_engine_step(tmp_path):
    spec = StoreSpec(name="Step Shop", admin_email="a@b.co")
    catalog = recorded(tmp_path, apply_events(spec.slug, spec))
    timeline = build_timeline(spec.slug, "ready", catalog.events(spec.slug))
    (op,) = timeline.operations
    assert [s.name for s in op.steps] == ["Namespace", "Isolation", "Secrets", "MySQL", "WordPress",
                                          "WooCommerce setup", "Ingress", "Ready"]
    assert (op.status, op.progress, op.seconds) == ("done", 100, 12.0)
    assert all(s.status == "done" for s in op.steps)
    assert [r.name for r in op.steps[3].resources] == ["mysql"] and op.steps[3].seconds is not None
    assert not timeline.provisioning
    text = [line.render() for line in timeline_view(timeline)]
    assert text[0] == "apply (done) in 12.0s" and len(text) == 1 + len(op.steps)


def test_a_running_apply_shows_progress_and_a_failed_one_its_step(tmp_path):
    spec = StoreSpec(name="Slow Shop", admin_email="a@b.co")
    started = ResourceStarted(store=spec.slug, resource="wordpress", type="kubernetes:apps/v1:Deployment",
                              op="create", step="WordPress")
    catalog = recorded(tmp_path, [*apply_events(spec.slug, spec, upto=4), started])
    timeline = build_timeline(spec.slug, "provisioning", catalog.events(spec.slug))
    assert timeline.provisioning and timeline.current.progress == 57  # 4 of 7 steps done, WordPress running
    assert [s.status for s in timeline.current.steps][:6] == ["done"] * 4 + ["running", "pending"]
    assert timeline_view(timeline)[0].render() == "apply (running, 57%)"
    failed = recorded(tmp_path / "f", apply_events("bad", StoreSpec(name="Bad", admin_email="a@b.co"), fail="mysql"))
    op = build_timeline("bad", "failed", failed.events("bad")).current
    assert op.status == "failed" and op.steps[3].status == "failed" and op.steps[-1].name == "Failed"
    assert failed.store("bad").status == "failed" and failed.store("bad").error_message == "timed out"


def a_plan() -> Plan:
    return Plan(store="view-shop", action="update", spec=None, fingerprint="sha256:x", state_url="file:///s",
                changes=(
                    ResourceChange("resource-quota", "kubernetes:core/v1:ResourceQuota", "update",
                                   (PropertyChange('spec.hard["limits.cpu"]', "update", "2", "4"),), kube_name="store-quota"),
                    ResourceChange("ingress", "kubernetes:networking.k8s.io/v1:Ingress", "create", kube_name="wordpress"),
                    ResourceChange("old", "kubernetes:core/v1:ConfigMap", "delete", kube_name="old"),
                    ResourceChange("setup", "kubernetes:batch/v1:Job", "replace",
                                   (PropertyChange("spec.template", "update", {"a": 1}, {"a": 2}, True),),
                                   replace_reasons=("spec",), kube_name="woocommerce-setup"),
                    ResourceChange("mysql", "kubernetes:apps/v1:Deployment", "same", kube_name="mysql")),
                drift=(ResourceChange("wordpress-service", "kubernetes:core/v1:Service", "create", kube_name="wordpress"),))


def test_text_html_and_json_plans_agree(settings, tmp_path):
    from storekit.cli.render import plan_text

    plan = a_plan()
    text = [line.rstrip() for line in plan_text(plan).splitlines()]
    app = web_app(settings, tmp_path)
    with app.test_request_context():
        from flask import render_template_string

        from storekit.service import Preview
        markup = render_template_string('{% include "_plan.html" %}', preview=Preview(id="p1", plan=plan))
    shown = [html.unescape(re.sub(r"<[^>]+>", "", line)).rstrip() for line in markup.splitlines()]
    shown = [line for line in shown if line or True][: len(text) + 1]
    assert [line for line in shown if line.strip()] == [line for line in text if line.strip()]
    for needle in ("+ Ingress", "- ConfigMap", "-/+ Job", "forces replacement", "Drift:", "Plan: 2 to add"):
        assert needle in "\n".join(text), needle
    document = plan.to_dict()
    assert [c["op"] for c in document["changes"] if c["op"] != "same"] == ["update", "create", "delete", "replace"]
    assert [c["kube_name"] for c in document["drift"]] == ["wordpress"]
    assert document["summary"]["text"] == plan.summary.text == text[-1].strip()
    assert [line.role for line in plan_view(plan)][:2] == ["heading", "drift"]
