"""The medusa engine's program, run under Pulumi's mocks: which objects a store gets and how
they are shaped, without a cluster (its life on the local cluster: test_medusa_cluster.py).

Covers: the engine's declared shape (tiers, volumes, components, steps), the secrets it
generates (URL-safe database password, Medusa's publishable key form), one namespace with
every object labelled, the database URL built from the Secret by Kubernetes, what a tier
change and a password reset change (and what they leave alone).
"""

from __future__ import annotations

import re

import pulumi
from pulumi.runtime import Mocks, set_mocks

from storekit.engine import ProgramContext
from storekit.engines import get_engine
from storekit.settings import Settings
from storekit.spec import StoreSpec


SECRET_SIG = "4dabf18193072939515e22adb298388d"  # how Pulumi marks a secret value on the wire


def _plain(value):
    """The inputs with secret values unwrapped (a Secret's stringData arrives wrapped)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return _plain(value["value"])
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class Capture(Mocks):
    def __init__(self):
        self.resources: dict[str, dict] = {}

    def new_resource(self, args):
        self.resources[args.name] = {**_plain(args.inputs), "_type": args.typ}
        return [f"{args.name}-id", args.inputs]

    def call(self, args):
        return {}


def objects(tier: str = "small", secrets: dict | None = None, **settings) -> dict[str, dict]:
    engine = get_engine("medusa")
    platform = Settings.load().replace(**settings)
    spec = StoreSpec(name="Mock Medusa", admin_email="owner@example.com", engine="medusa", tier=tier)
    spec = spec.resolve(platform)
    capture = Capture()
    set_mocks(capture, preview=False)
    program = engine.program(ProgramContext(spec=spec, settings=platform,
                                            secrets=secrets or engine.generate_secrets(), tier=engine.tier(tier)))

    @pulumi.runtime.test
    def run():
        program()
    run()
    return capture.resources


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container["env"]}


def test_the_engine_declares_its_shape():
    engine = get_engine("medusa")
    assert engine.available and engine.tier_names == ["small", "medium", "large"]
    assert set(engine.images) == {"medusa", "postgres"}
    assert engine.components == ("medusa", "postgres") and "medusa-setup" in engine.log_components
    assert engine.step_names == ["Namespace", "Isolation", "Secrets", "PostgreSQL", "Setup", "Medusa", "Ingress"]
    assert engine.shrinking_volumes("large", "small") == ["medusa 20Gi > 1Gi", "postgres 40Gi > 2Gi"]


def test_secrets_are_generated_in_the_forms_their_users_need():
    secrets = get_engine("medusa").generate_secrets()
    assert set(secrets) == {"postgres_password", "admin_password", "jwt_secret", "cookie_secret", "publishable_key"}
    assert re.fullmatch(r"pk_[0-9a-f]{64}", secrets["publishable_key"]), "the form the setup script accepts"
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", secrets["postgres_password"]), "safe inside a database URL"
    assert secrets != get_engine("medusa").generate_secrets()


def test_a_store_is_one_labelled_namespace_with_postgres_setup_medusa_and_ingress():
    res = objects()
    kinds = sorted((r["_type"].rsplit(":", 1)[-1], name) for name, r in res.items() if name != "cluster")
    assert kinds == [("Deployment", "medusa"), ("Deployment", "postgres"), ("Ingress", "ingress"),
                     ("Job", "medusa-setup"), ("LimitRange", "limit-range"), ("Namespace", "namespace"),
                     ("NetworkPolicy", "network-policy"), ("PersistentVolumeClaim", "medusa-data"),
                     ("PersistentVolumeClaim", "postgres-data"), ("ResourceQuota", "resource-quota"),
                     ("Secret", "credentials"), ("Service", "medusa-service"), ("Service", "postgres-service")]
    for name, r in res.items():
        if name in ("cluster", "namespace"):
            continue
        assert r["metadata"]["namespace"] == "store-mock-medusa", name
        assert r["metadata"]["labels"]["storekit.io/store"] == "mock-medusa", name
    assert set(res["credentials"]["stringData"]) == {"postgres-password", "admin-password", "jwt-secret",
                                                     "cookie-secret", "publishable-key"}
    rule = res["ingress"]["spec"]["rules"][0]
    assert rule["host"].startswith("mock-medusa.")
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "medusa", "port": {"number": 9000}}


def test_the_database_url_comes_from_the_secret_and_the_server_probes_health():
    res = objects()
    server = res["medusa"]["spec"]["template"]["spec"]["containers"][0]
    env = _env(server)
    names = [e["name"] for e in server["env"]]
    assert names.index("DATABASE_PASSWORD") < names.index("DATABASE_URL"), "Kubernetes expands earlier names only"
    assert env["DATABASE_URL"]["value"] == "postgres://medusa:$(DATABASE_PASSWORD)@postgres:5432/medusa"
    assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "postgres-password"
    assert env["COOKIE_SECURE"]["value"] == "false", "the local store is served over http"
    assert server["readinessProbe"]["httpGet"] == {"path": "/health", "port": 9000}
    assert server["volumeMounts"] == [{"name": "data", "mountPath": "/app/static"}]
    setup = res["medusa-setup"]["spec"]["template"]["spec"]["containers"][0]
    assert "medusa db:migrate" in setup["command"][-1] and "setup.js" in setup["command"][-1]
    assert {"ADMIN_EMAIL", "ADMIN_PASSWORD", "PUBLISHABLE_KEY", "DATABASE_URL"} <= set(_env(setup))
    database = res["postgres"]["spec"]["template"]["spec"]["containers"][0]
    assert _env(database)["POSTGRES_DB"]["value"] == "medusa"
    assert database["volumeMounts"][0]["mountPath"] == "/var/lib/postgresql/data"


def test_a_tier_change_touches_sizes_only_and_never_the_setup_job():
    small, medium = objects("small", SECRETS), objects("medium", SECRETS)
    changed = sorted(name for name in small if small[name] != medium[name])
    assert changed == ["limit-range", "medusa", "medusa-data", "postgres", "postgres-data", "resource-quota"]
    assert medium["postgres-data"]["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_a_password_reset_changes_the_secret_and_reruns_the_setup_job_only():
    before, after = objects("small", SECRETS), objects("small", {**SECRETS, "admin_password": "another"})
    assert sorted(name for name in before if before[name] != after[name]) == ["credentials", "medusa-setup"]


def test_a_node_pool_places_every_pod_and_none_places_nothing():
    pods = ("medusa", "postgres", "medusa-setup")
    placed = objects(node_pool="real")
    for name in pods:
        spec = placed[name]["spec"]["template"]["spec"]
        assert spec["nodeSelector"] == {"storekit.io/node-pool": "real"}, name
        assert spec["tolerations"] == [{"key": "storekit.io/node-pool", "operator": "Equal", "value": "real",
                                        "effect": "NoSchedule"}], name
    anywhere = objects()
    assert not any("nodeSelector" in anywhere[name]["spec"]["template"]["spec"] for name in pods)


SECRETS = {"postgres_password": "pg", "admin_password": "admin", "jwt_secret": "jwt", "cookie_secret": "cookie",
           "publishable_key": "pk_" + "0" * 64}

