"""Fleet plans grouped by identical change (storekit.grouping): the pure logic, and the
text, JSON and HTML renderings of one grouped fleet plan agreeing."""

from __future__ import annotations

import json

from storekit.fleet import FleetPlan
from storekit.grouping import group_plans, groups_text
from storekit.plan import Plan, PropertyChange, ResourceChange, SpecChange
from storekit.spec import StoreSpec
from storekit.views import fleet_view

FP = "sha256:" + "0" * 64


def spec(name: str, tier: str = "small") -> StoreSpec:
    return StoreSpec(name=name, admin_email="o@example.com", tier=tier, store_domain="x.io",
                     ingress_class="sim", storage_class="standard")


def tier_change(name: str, before: str = "small", after: str = "medium", cpu=("1", "2")) -> Plan:
    quota = ResourceChange(name="resource-quota", type="kubernetes:core/v1:ResourceQuota", op="update",
                           kube_name="store-quota",
                           properties=(PropertyChange('spec.hard["requests.cpu"]', "update", *cpu),))
    same = ResourceChange(name="namespace", type="kubernetes:core/v1:Namespace", op="same")
    return Plan(store=name, action="update", spec=spec(name, after), changes=(quota, same), fingerprint=FP,
                state_url="file:///s", spec_changes=(SpecChange("tier", before, after),))


def new(name: str, tier: str = "small") -> Plan:
    ns = ResourceChange(name="namespace", type="kubernetes:core/v1:Namespace", op="create")
    return Plan(store=name, action="create", spec=spec(name, tier), changes=(ns,), fingerprint="absent",
                state_url="file:///s")


def destroy(name: str) -> Plan:
    ns = ResourceChange(name="namespace", type="kubernetes:core/v1:Namespace", op="delete")
    return Plan(store=name, action="destroy", spec=None, changes=(ns,), fingerprint=FP, state_url="file:///s")


def noop(name: str) -> Plan:
    ns = ResourceChange(name="namespace", type="kubernetes:core/v1:Namespace", op="same")
    return Plan(store=name, action="noop", spec=spec(name), changes=(ns,), fingerprint=FP, state_url="file:///s")


def fleet() -> FleetPlan:
    plans = [tier_change(f"s{i:02}") for i in range(14)] + [new(f"n{i}") for i in range(3)]
    plans += [destroy("gone"), noop("still"), tier_change("big", "medium", "large", ("2", "4"))]
    return FleetPlan(plans=tuple(plans))


def test_identical_changes_form_one_group_in_a_stable_order():
    groups = fleet().groups
    assert [(g.count, g.label) for g in groups] == [
        (3, "new (small)"), (14, "tier small \u2192 medium"), (1, "tier medium \u2192 large"),
        (1, "destroy"), (1, "no changes")]
    assert groups[1].stores == tuple(f"s{i:02}" for i in range(14))
    assert [c.name for c in groups[1].changes] == ["resource-quota"]  # unchanged resources are not shown
    assert groups_text(groups) == ("3 stores: new (small); 14 stores: tier small \u2192 medium; "
                                   "1 store: tier medium \u2192 large; 1 store: destroy")


def test_a_different_value_or_drift_splits_a_group():
    odd = tier_change("odd", cpu=("1", "3"))  # same tier change, different property values
    drifted = tier_change("drifted")
    drifted = Plan(**{**drifted.__dict__, "drift": (ResourceChange(
        name="network-policy", type="kubernetes:networking.k8s.io/v1:NetworkPolicy", op="create"),)})
    groups = group_plans([tier_change("a"), odd, drifted, tier_change("b")])
    assert sorted(g.stores for g in groups) == [("a", "b"), ("drifted",), ("odd",)]
    assert next(g for g in groups if g.stores == ("drifted",)).label == (
        "tier small \u2192 medium; restore drift (NetworkPolicy)")
    creates = group_plans([new("x", "small"), new("y", "large")])
    assert sorted(g.label for g in creates) == ["new (large)", "new (small)"]


def test_text_lists_groups_and_expands_into_stores_and_property_changes():
    plan = fleet()
    short = "\n".join(line.render() for line in fleet_view(plan.groups, plan.summary.text))
    assert "14 stores: tier small \u2192 medium" in short and "and 6 more" in short
    assert "requests.cpu" not in short and "--expand" in short
    full = "\n".join(line.render() for line in fleet_view(plan.groups, plan.summary.text, expand=True))
    assert "s13" in full and '~ spec.hard["requests.cpu"]: "1" -> "2"' in full
    assert full.rstrip().endswith(plan.summary.text)


def test_json_carries_the_groups_and_every_store_plan():
    doc = json.loads(json.dumps(fleet().to_dict()))
    assert doc["groups_text"].startswith("3 stores: new (small); 14 stores")
    tier = next(g for g in doc["groups"] if g["count"] == 14)
    assert tier["spec_changes"] == [{"field": "tier", "before": "small", "after": "medium"}]
    assert tier["changes"][0]["properties"][0]["after"] == "2"
    assert len(doc["plans"]) == 20
    back = FleetPlan.from_dict(doc)
    assert back.groups_text == doc["groups_text"]  # spec changes survive a saved fleet plan


def test_cli_prints_groups():
    from storekit.cli import render

    text = render.fleet_text(fleet(), expand=False)
    assert text.splitlines()[0] == "3 stores: new (small)"
    assert text.splitlines()[-1] == fleet().summary.text


def test_dashboard_renders_groups_that_expand(settings, tmp_path):
    from flask import render_template
    from helpers import web_app

    app = web_app(settings, tmp_path)
    with app.test_request_context("/fleet"):
        html = render_template("_fleet_plan.html", fleet=fleet())
    assert html.count("<details") == 5 and "<summary>14 stores: tier small \u2192 medium</summary>" in html
    assert "s13" in html and "spec.hard[&#34;requests.cpu&#34;]" in html


def test_fleet_plan_request_errors_name_the_field(settings, tmp_path):
    from helpers import web_app

    app = web_app(settings, tmp_path)
    client = app.test_client()
    h = {"Authorization": f"Bearer {app.viewer_token}"}
    r = client.post("/api/fleet/plan", json={"fleet": "stores: [1"}, headers=h)
    assert r.status_code == 400 and "not valid YAML" in r.json["message"]
    r = client.post("/api/fleet/plan", json={"fleet": "stores:\n  - name: x\n", "prune": True}, headers=h)
    assert r.status_code == 400 and {f["field"] for f in r.json["fields"]} == {"prune"}
    r = client.post("/api/fleet/plan", json={"fleet": "stores:\n  - name: ''\n"}, headers=h)
    assert r.status_code == 400 and r.json["fields"][0]["field"].startswith("stores[0]")
    assert client.post("/api/fleet/plan", json={"fleet": "stores: []"}).status_code == 401


def test_the_schema_accepts_a_grouped_fleet_plan():
    from pathlib import Path

    import jsonschema

    schema = json.loads((Path(__file__).parent.parent / "docs" / "plan-format.schema.json").read_text())
    jsonschema.validate(json.loads(json.dumps(fleet().to_dict())), schema)


def test_a_fleet_apply_with_a_store_it_could_not_plan_fails_and_says_which(tmp_path, monkeypatch):
    """The stores that could be planned are applied; the one that could not is reported as
    failed, counted, and the exit code is 1, in text and in JSON (it once said 'Apply
    complete: 2 of 2 stores' and exited 0)."""
    from click.testing import CliRunner

    from storekit import Storekit
    from storekit.cli.main import cli
    from storekit.results import FleetItem, FleetResult

    monkeypatch.setenv("STOREKIT_HOME", str(tmp_path))
    (tmp_path / "fleet.yaml").write_text("stores:\n  - name: a\n    admin_email: o@example.com\n"
                                         "  - name: b\n    admin_email: o@example.com\n")
    planned = FleetPlan(plans=(new("a"),), errors=(("b", "the engine could not read its state"),))
    monkeypatch.setattr(Storekit, "plan_fleet", lambda self, *args, **kwargs: planned)
    monkeypatch.setattr(Storekit, "apply_many", lambda self, items, **kwargs: FleetResult(
        items=tuple(FleetItem(store=p.store, plan=p) for p in items), seconds=1.0))
    runner = CliRunner()
    text = runner.invoke(cli, ["apply", "-f", str(tmp_path / "fleet.yaml"), "--auto-approve"])
    assert text.exit_code == 1, text.output
    assert "a: ok" in text.output and "b: FAILED to plan: the engine could not read its state" in text.output
    assert "Apply complete: 1 of 2 stores" in text.output
    doc = runner.invoke(cli, ["apply", "-f", str(tmp_path / "fleet.yaml"), "--auto-approve", "--json"])
    assert doc.exit_code == 1
    out = json.loads(doc.output)
    assert out["ok"] is False and out["plan_errors"] == [{"store": "b", "message": "the engine could not read its state"}]

    nothing_else = FleetPlan(plans=(noop("a"),), errors=planned.errors)
    monkeypatch.setattr(Storekit, "plan_fleet", lambda self, *args, **kwargs: nothing_else)
    assert runner.invoke(cli, ["apply", "-f", str(tmp_path / "fleet.yaml"), "--auto-approve"]).exit_code == 1
