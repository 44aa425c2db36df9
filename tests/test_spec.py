"""Store specs: slugs, validation (every bad field named), tiers, settings resolution,
the engine registry. Fast: no cluster."""

from __future__ import annotations

import pytest

from storekit import EngineUnavailable, SpecError, Storekit, StoreSpec, slugify
from storekit.engine import Engine
from storekit.engines import get_engine, registry
from storekit.settings import Settings
from storekit.spec import MAX_SLUG


@pytest.mark.parametrize("name, slug", [
    ("My Test Shop", "my-test-shop"),
    ("  Café Ünïcode!! ", "cafe-unicode"),
    ("a--b__c", "a-b-c"),
    ("日本", ""),
    ("x" * 100, "x" * MAX_SLUG),
    ("a" * 56 + " b" + "c" * 10, "a" * 56),
])
def test_slugify(name, slug):
    assert slugify(name) == slug
    if slug:
        assert len("store-" + slug) <= 63


def test_valid_spec_resolves_platform_settings():
    settings = Settings.load(environ={"STOREKIT_HOME": "/tmp/sk", "STOREKIT_STORE_DOMAIN": "shops.example.com"})
    spec = StoreSpec(name="My Test Shop", admin_email="owner@example.com").resolve(settings)
    assert spec.slug == "my-test-shop"
    assert spec.namespace == "store-my-test-shop"
    assert spec.host == "my-test-shop.shops.example.com"
    assert spec.url == "http://my-test-shop.shops.example.com"
    assert spec.storage_class == "standard" and spec.ingress_class == "sim"
    assert spec.images["mysql"].startswith("mysql:")


def test_every_bad_field_is_named():
    spec = StoreSpec(name="!!!", admin_email="not-an-email", tier="huge", engine="woocommerce",
                     images={"wordpress": "bad image"})
    with pytest.raises(SpecError) as err:
        spec.validate()
    fields = dict(err.value.problems)
    assert set(fields) == {"name", "admin_email", "tier", "images.wordpress"}
    assert "slugs to nothing" in fields["name"]
    assert "small, medium, large" in fields["tier"]
    assert "owner@example.com" in fields["admin_email"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 64, "tab\there"])
def test_bad_names(name):
    with pytest.raises(SpecError) as err:
        StoreSpec(name=name, admin_email="a@b.co").validate()
    assert [f for f, _ in err.value.problems] == ["name"]


def test_unknown_and_unavailable_engines(tmp_path, monkeypatch):
    # An engine that is registered but not ready: planning it says so before anything runs.
    monkeypatch.setitem(registry(), "shopware", Engine(name="shopware", description="not yet", program=None,
                                                       available=False, unavailable_reason="not written yet"))
    kit = Storekit(Settings.load(environ={"STOREKIT_HOME": str(tmp_path)}))
    with pytest.raises(SpecError) as err:
        kit.plan(StoreSpec(name="shop", admin_email="bad", engine="shopify"))
    assert {f for f, _ in err.value.problems} == {"engine", "admin_email"}
    with pytest.raises(EngineUnavailable) as err:
        kit.plan(StoreSpec(name="shop", admin_email="a@b.co", engine="shopware"))
    assert "not written yet" in str(err.value) and "medusa, woocommerce" in str(err.value)
    assert not (tmp_path / "state").exists(), "a rejected spec must write nothing"


def test_registry_has_both_engines():
    assert set(registry()) >= {"woocommerce", "medusa"}
    assert get_engine("woocommerce").available and get_engine("medusa").available


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(SpecError) as err:
        StoreSpec.from_dict({"name": "Shop", "email": "a@b.co", "colour": "red"})
    assert ("colour", "is not a store field") in err.value.problems
    assert StoreSpec.from_dict({"name": "Shop", "email": "a@b.co"}).admin_email == "a@b.co"


def test_tiers_grow():
    engine = get_engine("woocommerce")
    assert engine.tier_names == ["small", "medium", "large"]
    assert engine.tier("small").sizes.quota_pods == 10
    assert engine.shrinking_volumes("small", "large") == []
    assert engine.shrinking_volumes("large", "medium") == ["wordpress 20Gi > 5Gi", "mysql 40Gi > 10Gi"]


def test_settings_sources_and_bad_values():
    s = Settings.load({"parallel": 5}, environ={"STOREKIT_TIMEOUT": "60", "STOREKIT_HOME": "/x"})
    assert (s.parallel, s.sources["parallel"]) == (5, "option")
    assert (s.timeout, s.sources["timeout"]) == (60, "env STOREKIT_TIMEOUT")
    assert s.state_url == "file:///x/state" and s.sources["state_url"] == "default"
    with pytest.raises(SpecError) as err:
        Settings.load(environ={"STOREKIT_PARALLEL": "many"})
    assert "parallel" in str(err.value)
    hidden = {r["name"]: r["value"] for r in Settings.load({"passphrase": "p4ss"}).describe()}
    assert hidden["passphrase"] == "(sensitive)"
