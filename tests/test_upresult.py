"""An update's outputs from its own engine events (storekit.upresult), and Ready only once the
Deployments' own status says so (storekit.settled)."""

from __future__ import annotations

from types import SimpleNamespace

from storekit.upresult import StackOutputs


class Stack:
    calls = 0

    def outputs(self):
        Stack.calls += 1
        return {"slug": SimpleNamespace(value="from-cli")}

    def info(self, show_secrets=False):
        raise AssertionError("the summary is not read")


def outputs_event(kind: str, outputs: dict):
    meta = SimpleNamespace(type=kind, new=SimpleNamespace(outputs=outputs))
    return SimpleNamespace(res_outputs_event=SimpleNamespace(metadata=meta))


def test_outputs_come_from_the_stack_event_and_the_stack_is_itself_again():
    seen, stack = [], Stack()
    outputs = StackOutputs(seen.append)
    with outputs.serving(stack):
        outputs(outputs_event("kubernetes:apps/v1:Deployment", {"metadata": {}}))
        outputs(outputs_event("pulumi:pulumi:Stack", {"slug": "shop", "secrets": "[secret]"}))
        assert {k: v.value for k, v in stack.outputs().items()} == {"slug": "shop", "secrets": "[secret]"}
        assert stack.info(True) is not None  # the SDK asserts one
    assert len(seen) == 2 and Stack.calls == 0 and outputs.outputs["slug"] == "shop"
    assert stack.outputs()["slug"].value == "from-cli"  # the class's method again


def test_without_an_event_the_cli_answers():
    stack, outputs = Stack(), StackOutputs(lambda event: None)
    with outputs.serving(stack):
        assert stack.outputs()["slug"].value == "from-cli"
    assert outputs.outputs == {"slug": "from-cli"}


def test_a_deployment_is_rolled_out_only_when_its_own_status_says_so():
    from storekit.settled import rolled_out

    done = {"metadata": {"generation": 3}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 3, "updatedReplicas": 1, "availableReplicas": 1, "replicas": 1}}
    assert rolled_out(done)
    assert not rolled_out({**done, "status": {**done["status"], "observedGeneration": 2}})
    assert not rolled_out({**done, "status": {"observedGeneration": 3, "availableReplicas": 1, "replicas": 1}})
    assert not rolled_out({**done, "status": {**done["status"], "replicas": 2}})  # the old pod still there
    assert not rolled_out({"metadata": {"generation": 1}, "spec": {}})
