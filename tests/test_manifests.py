"""Rendering a store's objects from its recorded state (storekit.manifests): order, the
provider left out, secrets redacted unless revealed. Fast: no cluster."""

from __future__ import annotations

import json

import yaml

from storekit.manifests import objects_from_state, to_yaml

SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def secret(value: str) -> dict:
    return {**SIG, "plaintext": json.dumps(value)}


DEPLOYMENT = {"resources": [
    {"type": "pulumi:pulumi:Stack", "urn": "urn:pulumi:s::storekit::pulumi:pulumi:Stack::storekit-s"},
    {"type": "pulumi:providers:kubernetes", "custom": True, "inputs": {"kubeconfig": "/k"}},
    {"type": "kubernetes:core/v1:Namespace", "custom": True,
     "inputs": {"metadata": {"name": "store-s"}, "kind": "Namespace", "apiVersion": "v1"}},
    {"type": "kubernetes:core/v1:Secret", "custom": True,
     "inputs": {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": "store-credentials", "namespace": "store-s"},
                "stringData": {"admin-password": secret("hunter2"), "plain": "visible?"}}},
    {"type": "kubernetes:apps/v1:Deployment", "custom": True, "delete": True,
     "inputs": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "old"}}},
    {"type": "kubernetes:apps/v1:Deployment", "custom": True,
     "inputs": {"apiVersion": "apps/v1", "kind": "Deployment", "__defaults": [],
                "metadata": {"name": "mysql", "namespace": "store-s"},
                "spec": {"template": {"spec": {"containers": [{"name": "m", "env": [
                    {"name": "X", "value": secret("s3")}]}]}}}}},
]}


def test_objects_in_recorded_order_without_provider_or_pending_deletes():
    objects = objects_from_state(DEPLOYMENT)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", "store-s"), ("Secret", "store-credentials"), ("Deployment", "mysql")]
    assert list(objects[0]) == ["apiVersion", "kind", "metadata"]  # the order people read
    assert "__defaults" not in objects[2]


def test_secrets_redacted_by_default():
    text = to_yaml(objects_from_state(DEPLOYMENT))
    assert "hunter2" not in text and "s3" not in text and "visible?" not in text
    secret_obj = list(yaml.safe_load_all(text))[1]
    assert secret_obj["stringData"] == {"admin-password": "(sensitive)", "plain": "(sensitive)"}


def test_reveal_gives_plaintext():
    objects = objects_from_state(DEPLOYMENT, reveal=True)
    assert objects[1]["stringData"] == {"admin-password": "hunter2", "plain": "visible?"}
    assert objects[2]["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "s3"


def test_reveal_without_plaintext_stays_redacted():
    deployment = {"resources": [{"type": "kubernetes:core/v1:Secret", "custom": True, "inputs": {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"a": {**SIG, "ciphertext": "zz"}}}}]}
    assert objects_from_state(deployment, reveal=True)[0]["stringData"] == {"a": "(sensitive)"}


def test_nothing_recorded():
    assert objects_from_state(None) == [] and to_yaml([]) == ""
