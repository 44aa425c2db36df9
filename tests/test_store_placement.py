"""Which images and nodes a store gets (STOREKIT_PROFILE, STOREKIT_IMAGES, STOREKIT_NODE_POOL)
and the WooCommerce setup Job as data. Fast: no cluster."""

from __future__ import annotations

import json

import pytest

from storekit.errors import SpecError
from storekit.settings import Settings
from storekit.spec import StoreSpec
from storekit.stacks import woocommerce
from storekit.stacks.woocommerce.setup import SETUP_SCRIPT, setup_job_spec, setup_notice


def load(tmp_path, **env) -> Settings:
    return Settings.load(environ={"STOREKIT_HOME": str(tmp_path), **env})


def index(tmp_path, **refs) -> None:
    (tmp_path / "images").mkdir(exist_ok=True)
    (tmp_path / "images" / "index.json").write_text(json.dumps(refs))


def test_production_defaults_are_the_official_images_anywhere(tmp_path):
    settings = load(tmp_path)
    assert (settings.profile, settings.images, settings.node_pool) == (None, "official", None)
    spec = StoreSpec("Shop", "a@example.com").resolve(settings)
    assert spec.images == woocommerce.IMAGES and "wpcli" not in spec.images
    assert spec.storage_class == "standard"


def test_the_node_profile_places_stores_on_the_real_node_with_local_images(tmp_path):
    index(tmp_path, mariadb="storekit.local/mariadb:10.11-abc", wordpress="storekit.local/wordpress:6.1-def")
    settings = load(tmp_path, STOREKIT_PROFILE="node")
    assert (settings.images, settings.node_pool, settings.storage_class, settings.ingress_class) == (
        "local", "real", "node-local", "traefik")
    assert settings.woocommerce_optional is True
    assert settings.sources["node_pool"] == "profile node"
    spec = StoreSpec("Shop", "a@example.com").resolve(settings)
    assert spec.images == {"mysql": "storekit.local/mariadb:10.11-abc", "wordpress": "storekit.local/wordpress:6.1-def"}
    assert (spec.storage_class, spec.ingress_class) == ("node-local", "traefik")
    # Variables and options still win over the profile; a store's own images over both.
    assert load(tmp_path, STOREKIT_PROFILE="node", STOREKIT_STORAGE_CLASS="fast").storage_class == "fast"
    own = StoreSpec("Shop", "a@example.com", images={"mysql": "mysql:8.0"}).resolve(settings)
    assert own.images["mysql"] == "mysql:8.0"


def test_local_images_missing_name_the_fix(tmp_path):
    with pytest.raises(SpecError, match="make images") as e:
        StoreSpec("Shop", "a@example.com").resolve(load(tmp_path, STOREKIT_IMAGES="local"))
    assert [f for f, _ in e.value.problems] == ["images"]
    index(tmp_path, wordpress="storekit.local/wordpress:6.1-def")
    with pytest.raises(SpecError, match="mariadb is not built here"):
        StoreSpec("Shop", "a@example.com").resolve(load(tmp_path, STOREKIT_IMAGES="local"))


def test_image_pairs_and_bad_values(tmp_path):
    spec = StoreSpec("Shop", "a@example.com").resolve(load(tmp_path, STOREKIT_IMAGES="mysql=mirror/mysql:8.4"))
    assert spec.images == {**woocommerce.IMAGES, "mysql": "mirror/mysql:8.4"}
    with pytest.raises(SpecError, match="KEY=REF"):
        StoreSpec("Shop", "a@example.com").resolve(load(tmp_path, STOREKIT_IMAGES="nonsense"))
    with pytest.raises(SpecError, match="profile: must be one of node"):
        load(tmp_path, STOREKIT_PROFILE="moon")
    with pytest.raises(SpecError, match="woocommerce_optional: must be true or false"):
        load(tmp_path, STOREKIT_WOOCOMMERCE_OPTIONAL="maybe")


def test_a_recorded_spec_with_the_retired_wpcli_image_still_resolves(tmp_path):
    old = StoreSpec("Shop", "a@example.com", images={**woocommerce.IMAGES, "wpcli": "wordpress:cli-2.12.0"})
    assert "wpcli" not in old.resolve(load(tmp_path)).images
    with pytest.raises(SpecError, match="images.wpcli"):
        old.validate()  # but a new spec naming it is refused


def test_the_setup_job_runs_the_script_in_the_wordpress_image_as_www_data(tmp_path):
    settings = load(tmp_path, STOREKIT_WOOCOMMERCE_SOURCE="/opt/woocommerce.zip")
    spec = StoreSpec("Shop", "a@example.com").resolve(settings)
    script = SETUP_SCRIPT.read_text()
    job = setup_job_spec(spec, settings, labels={}, placement={"node_selector": {"storekit.io/node-pool": "real"}},
                         admin_password="pw", script=script, env=[], salts="wordpress-salts", claim="wordpress-data",
                         config_map="woocommerce-setup")
    pod = job["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == spec.images["wordpress"]
    assert container["command"] == ["php", "/opt/storekit/woocommerce-setup.php"]
    assert pod["security_context"]["run_as_user"] == 33 and pod["security_context"]["run_as_group"] == 33
    assert pod["node_selector"] == {"storekit.io/node-pool": "real"}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["WOOCOMMERCE_SOURCE"] == "/opt/woocommerce.zip" and env["WOOCOMMERCE_OPTIONAL"] == "false"
    assert container["env_from"] == [{"secret_ref": {"name": "wordpress-salts"}}]
    assert container["resources"]["limits"]["memory"] == "512Mi"
    rule = job["pod_failure_policy"]["rules"][0]
    assert rule["action"] == "FailJob" and rule["on_exit_codes"]["values"] == [3]
    assert rule["on_exit_codes"]["container_name"] == container["name"]
    # A changed script or password changes the pod template: the Job runs again.
    again = setup_job_spec(spec, settings, labels={}, placement={}, admin_password="pw", script=script + "\n",
                           env=[], salts="s", claim="c", config_map="m")
    before, after = (j["template"]["metadata"]["annotations"] for j in (job, again))
    assert before["storekit.io/setup-script"] != after["storekit.io/setup-script"]
    assert before["storekit.io/admin-password-revision"] == after["storekit.io/admin-password-revision"]


def test_the_setup_outcome_becomes_a_notice_only_when_a_person_must_know():
    said = setup_notice("woocommerce not-installed: WooCommerce could not be installed from https://x/w.zip: "
                        "download failed: the host x does not resolve\n")
    assert said == ("WooCommerce not installed: WooCommerce could not be installed from https://x/w.zip: "
                    "download failed: the host x does not resolve")
    assert setup_notice("woocommerce installed: 9.4.1") is None and setup_notice("") is None
