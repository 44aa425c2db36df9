"""Engines declare their whole shape, and everything else derives from it: the registry
(entry points only), spec validation, the volume check, the CLI's choices and the API's
enums. Fast: no tools."""

from __future__ import annotations

import pytest

from storekit.engine import Engine, Tier, Volume
from storekit.engines import components, get_engine, registry, tier_names
from storekit.errors import SpecError
from storekit.planning import check_volumes_grow
from storekit.spec import StoreSpec


def test_every_registered_engine_is_consistent():
    for name, engine in registry().items():
        assert engine.name == name
        if not engine.available:
            continue
        assert engine.tiers and engine.images and engine.steps, name
        assert set(engine.health_components) <= set(engine.components) <= set(engine.log_components), name
        for tier in engine.tiers:
            assert set(tier.volumes) == {v.name for v in engine.volumes}, (name, tier.name)
        secrets = engine.generate_secrets()
        assert secrets and secrets != engine.generate_secrets(), "fresh values every time"


def test_the_edges_offer_what_the_engines_declare():
    from click.testing import CliRunner

    from storekit.cli.main import cli
    from storekit.webapp.openapi import SPEC

    assert tier_names() == ["small", "medium", "large"]
    new_store = SPEC["paths"]["/api/stores"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert new_store["properties"]["tier"]["enum"] == tier_names()
    assert new_store["properties"]["engine"]["enum"] == sorted(registry())
    restart = SPEC["paths"]["/api/stores/{slug}/actions/restart"]["post"]["requestBody"]["content"]
    assert restart["application/json"]["schema"]["properties"]["component"]["enum"] == ["all", *components()]
    help_text = CliRunner().invoke(cli, ["plan", "--help"]).output
    assert "[small|medium|large]" in help_text and "[medusa|woocommerce]" in help_text


def test_spec_rules_come_from_the_engine():
    with pytest.raises(SpecError) as err:
        StoreSpec(name="Shop", admin_email="a@b.co", tier="huge", images={"varnish": "varnish:7"}).validate()
    rules = dict(err.value.problems)
    assert rules["tier"] == "must be one of small, medium, large (got 'huge')"
    assert rules["images.varnish"].startswith("is not an image of a woocommerce store (known: wordpress, mysql")
    with pytest.raises(SpecError) as err:
        StoreSpec(name="Shop", admin_email="a@b.co", engine="shopify").validate()
    assert [f for f, _ in err.value.problems] == ["engine"]


def test_volumes_grow_but_never_shrink_by_the_engines_rules():
    engine = get_engine("woocommerce")
    spec = StoreSpec(name="Shop", admin_email="a@b.co", tier="large")
    check_volumes_grow(engine, spec.with_changes(tier="small"), spec)  # growing is fine
    with pytest.raises(SpecError) as err:
        check_volumes_grow(engine, spec, spec.with_changes(tier="small"))
    assert "volumes can grow but not shrink (wordpress 20Gi > 1Gi, mysql 40Gi > 2Gi)" in str(err.value)

    elastic = Engine(name="elastic", description="", program=None,
                     tiers=(Tier("big", {"data": "10Gi"}), Tier("tiny", {"data": "1Gi"})),
                     volumes=(Volume("data", "db", may_shrink=True),))
    assert elastic.shrinking_volumes("big", "tiny") == []


def test_timeline_steps_map_resources_by_type_or_name():
    engine = get_engine("woocommerce")
    assert engine.step_of("kubernetes:core/v1:Namespace", "namespace") == "Namespace"
    assert engine.step_of("kubernetes:apps/v1:Deployment", "mysql") == "MySQL"
    assert engine.step_of("kubernetes:core/v1:PersistentVolumeClaim", "wordpress-data") == "WordPress"
    assert engine.step_of("kubernetes:core/v1:ConfigMap", "extra") == "ConfigMap", "unknown: named by kind"
