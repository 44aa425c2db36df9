"""The pure logic over real engine output, recorded once (tests/fixtures/record.py): the
preview digest becomes a plan (create, a tier change, drift), secrets never reach it,
engine events become storekit events and a timeline, and engine errors are classified
(unreachable, timed out, locked). Fast: no tools, no cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi.automation import CommandResult
from pulumi.automation.errors import create_command_error
from pulumi.automation.events import EngineEvent

from storekit.catalog import Catalog
from storekit.classify import json_diagnostics, translate
from storekit.engines import get_engine
from storekit.errors import ClusterUnreachable, OperationTimeout, StorageFull, StoreBusy
from storekit.events import EventTranslator, OperationFinished, OperationStarted, ResourceFinished, scrub
from storekit.plan import Plan, changes_from_digest, fingerprint
from storekit.planning import drift_of
from storekit.recorder import CatalogRecorder
from storekit.scheduling import explain
from storekit.timeline import build_timeline
from storekit.views import plan_view

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "engine"
ENGINE = get_engine("woocommerce")


def load(name: str):
    path = FIXTURES / name
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text().splitlines()]
    return json.loads(path.read_text())


def secrets() -> list[str]:
    return load("secrets.json")


def error(name: str):
    data = load(name)
    return create_command_error(CommandResult(data["stdout"], data["stderr"], data["code"])), data


def plan_of(digest: dict, recorded: dict | None, action: str) -> Plan:
    return Plan(store="fixture", action=action, spec=None, changes=changes_from_digest(digest, recorded),
                fingerprint=fingerprint(recorded), state_url="file:///fixture")


def test_a_new_store_plans_fourteen_objects_and_no_secret():
    plan = plan_of(load("preview-create.json"), None, "create")
    assert plan.summary.text == "Plan: 14 to add, 0 to change, 0 to destroy."
    assert {c.op for c in plan.changes} == {"create"}
    kinds = sorted(c.kind for c in plan.changes)
    assert kinds.count("Secret") == 2 and kinds.count("Deployment") == 2 and "Ingress" in kinds
    document = plan.to_json()
    assert not [s for s in secrets() if s in document], "a generated secret reached the plan"


def test_a_tier_change_plans_only_what_follows_from_it():
    recorded = load("state-created.json")
    plan = plan_of(load("preview-tier.json"), recorded, "update")
    changed = {c.name: c for c in plan.changes if c.op != "same"}
    assert set(changed) == {"resource-quota", "limit-range", "mysql", "wordpress", "mysql-data", "wordpress-data"}
    quota = {p.path: (p.before, p.after) for p in changed["resource-quota"].properties}
    assert quota['spec.hard["limits.cpu"]'] == ("2", "4")
    text = "\n".join(line.render() for line in plan_view(plan))
    assert '~ spec.hard["limits.cpu"]: "2" -> "4"' in text and "Plan: 0 to add, 6 to change, 0 to destroy." in text
    assert not [s for s in secrets() if s in plan.to_json()]


def test_an_object_deleted_live_is_drift():
    recorded = load("state-created.json")
    changes = changes_from_digest(load("preview-drift.json"), recorded)
    drift = drift_of(changes, recorded, spec_unchanged=True)
    assert [(c.kind, c.kube_name, c.op) for c in drift] == [("Service", "wordpress", "create")]


def test_engine_events_become_storekit_events_and_a_timeline(tmp_path):
    raw = [EngineEvent.from_json(line) for line in load("events-create.jsonl")]
    seen = []
    translator = EventTranslator("fixture", ENGINE.step_of, secrets(), seen.append)
    for event in raw:
        translator(event)
    finished = [e for e in seen if isinstance(e, ResourceFinished)]
    assert len(finished) == 14 and all(e.seconds >= 0 for e in finished)
    assert {e.step for e in finished} == set(ENGINE.step_names)
    assert all(o["status"] == "ok" for o in translator.outcomes.values())

    catalog = Catalog.open(f"sqlite:///{tmp_path}/t.db")
    from storekit.spec import StoreSpec
    spec = StoreSpec(name="Fixture", admin_email="f@example.com")
    recorder = CatalogRecorder(lambda: catalog)
    recorder(OperationStarted(store="fixture", operation="apply", spec=spec, steps=tuple(ENGINE.step_names)))
    for event in seen:
        recorder(event)
    recorder(OperationFinished(store="fixture", operation="apply", seconds=30.0))
    op = build_timeline("fixture", "ready", catalog.events("fixture")).current
    assert [s.name for s in op.steps] == ENGINE.step_names + ["Ready"]
    assert all(s.status == "done" for s in op.steps) and op.progress == 100
    assert sum(len(s.resources) for s in op.steps) == 14


def test_an_unreachable_cluster_is_classified():
    e, data = error("error-unreachable.json")
    translated = translate(e, "fixture", secrets())
    assert isinstance(translated, ClusterUnreachable), translated
    assert "make cluster-status" in translated.hint


def test_a_timeout_is_classified_with_what_the_cluster_said():
    e, data = error("error-timeout.json")
    translator = EventTranslator("late", ENGINE.step_of, secrets(), None)
    for line in data["events"]:
        translator(EngineEvent.from_json(line))
    translated = translate(e, "late", secrets(), translator.errors, translator.failure_warnings())
    assert isinstance(translated, OperationTimeout), translated
    assert "did not become ready in time" in translated.message and "ingress" in translated.message.lower()
    assert not [s for s in secrets() if s in translated.message + translated.details]


SCHEDULER = ("0/3 nodes are available: 1 Too many pods, 1 node(s) didn't match pod affinity rules, "
             "1 node(s) had untolerated taint(s). preemption: 0/3 nodes are available: 3 Preemption is not helpful.")


def pod(name: str, scheduled: str, message: str = ""):
    from lightkube.models.core_v1 import PodCondition, PodStatus
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import Pod

    reason = "Unschedulable" if scheduled == "False" else None
    return Pod(metadata=ObjectMeta(name=name), status=PodStatus(conditions=[
        PodCondition(type="PodScheduled", status=scheduled, reason=reason, message=message)]))


def test_a_timeout_names_the_pods_no_node_could_take_and_why():
    """A timeout while the store's pods are Pending says which pods and the scheduler's own
    message (their PodScheduled=False condition), secrets scrubbed; same kind, exit code, status."""
    e, data = error("error-timeout.json")
    translator = EventTranslator("late", ENGINE.step_of, secrets(), None)
    for line in data["events"]:
        translator(EngineEvent.from_json(line))
    timeout = translate(e, "late", secrets(), translator.errors, translator.failure_warnings())
    leaked = secrets()[0]
    pods = [pod("wordpress-5d8f-abcde", "False", f"{SCHEDULER} {leaked}"), pod("mysql-6c7b-fghij", "True")]

    class Cluster:  # what lightkube's Client.list gives for the store's namespace
        def list(self, kind, namespace):
            assert (kind.__name__, namespace) == ("Pod", "store-late")
            return iter(pods)

    explained = explain(timeout, Cluster, "store-late", lambda text: scrub(text, secrets()))
    assert isinstance(explained, OperationTimeout) and explained.kind == "timeout"
    assert (explained.exit_code, explained.http_status) == (timeout.exit_code, timeout.http_status)
    assert explained.message.startswith(timeout.message + "; pod wordpress-5d8f-abcde: Unschedulable: 0/3 nodes "
                                        "are available: 1 Too many pods, 1 node(s) didn't match pod affinity rules")
    assert "mysql" not in explained.message.split(timeout.message)[1]
    assert explained.to_dict()["unschedulable"] == [
        {"pod": "wordpress-5d8f-abcde", "reason": "Unschedulable", "message": scrub(f"{SCHEDULER} {leaked}", secrets())}]
    assert "add nodes" in explained.hint and explained.details == timeout.details
    assert leaked not in str(explained) + json.dumps(explained.to_dict())
    # Nothing unscheduled, or a cluster that cannot be read: the timeout as it was.
    pods[0] = pod("wordpress-5d8f-abcde", "True")
    assert explain(timeout, Cluster, "store-late") is timeout
    assert explain(timeout, lambda: 1 / 0, "store-late") is timeout
    assert "unschedulable" not in timeout.to_dict()


def test_a_held_lock_is_store_busy_with_its_holder():
    e, _ = error("error-locked.json")
    translated = translate(e, "fixture")
    assert isinstance(translated, StoreBusy) and translated.holder and "pid" in translated.holder


@pytest.mark.parametrize("stderr, where", [
    # taking the lock (tests/faults/test_full_disk.py), and saving the backup after an update
    ("error: 2 errors occurred:\n    1) write /srv/state/.pulumi/locks/organization/storekit/shop/d5be.json"
     ".18ed4b2797784132.tmp: no space left on device\n    2) Unknown\n",
     "/srv/state/.pulumi/locks/organization/storekit/shop/d5be.json"),
    ('error: saving backup: blob (key ".pulumi/backups/storekit/shop/shop.17.json") (code=Unknown): write '
     "/srv/state/.pulumi/backups/storekit/shop/shop.17.json.18ed4b59cfa8ceca.tmp: no space left on device\n",
     "/srv/state/.pulumi/backups/storekit/shop/shop.17.json"),
])
def test_a_full_state_disk_is_storage_full_naming_the_file(stderr, where):
    e = create_command_error(CommandResult("Updating (shop):\n", stderr, 1))
    translated = translate(e, "shop")
    assert isinstance(translated, StorageFull) and translated.where == where
    assert translated.message == f"the state backend has no space left on its disk (writing {where})"
    assert (translated.exit_code, translated.http_status, translated.kind) == (9, 507, "storage_full")


@pytest.mark.parametrize("stdout", ["", "not json", '{"diagnostics": []}'])
def test_diagnostics_of_a_failed_preview_tolerate_odd_output(stdout):
    assert json_diagnostics(stdout) == []


def test_no_fixture_holds_a_secret_value():
    for path in FIXTURES.iterdir():
        if path.name != "secrets.json":
            assert not [s for s in secrets() if s in path.read_text()], path.name
