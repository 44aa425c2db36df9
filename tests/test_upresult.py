"""An update's outputs from its own engine events (storekit.upresult): no CLI process after it."""

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
