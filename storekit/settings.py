"""Settings, declared once.

Each setting is declared here with its environment variable, default and help text; the
CLI builds its options and ``storekit config`` from this table, and the docs test checks
that every one is documented. Resolution order: explicit value (CLI option, API caller),
then the ``STOREKIT_*`` environment variable, then the default. ``Settings.sources``
records where each value came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import SpecError
from .redact import redact_url


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Callable[[dict], Any] | Any
    help: str
    type: type = str
    secret: bool = False


def _home_path(*parts: str) -> Callable[[dict], str]:
    return lambda values: str(Path(values["home"], *parts))


SETTINGS: tuple[Setting, ...] = (
    Setting("home", "STOREKIT_HOME", lambda _: str(Path("~/.storekit").expanduser()),
            "Folder for state, keys, tools, the catalog and the local cluster."),
    Setting("profile", "STOREKIT_PROFILE", None,
            "A named set of defaults for the settings below: 'node' places stores on the local real "
            "node (its images, pool, StorageClass, IngressClass; see PROFILES). Options and "
            "variables still win over it. Default: none (production defaults)."),
    Setting("kubeconfig", "STOREKIT_KUBECONFIG", _home_path("kubeconfig"),
            "Kubeconfig file of the cluster stores are created in (default: the local cluster's), "
            "or 'in-cluster' to use the service account of the pod storekit runs in."),
    Setting("context", "STOREKIT_CONTEXT", None,
            "Kubeconfig context to use (default: the file's current context)."),
    Setting("state_url", "STOREKIT_STATE_URL", lambda v: "file://" + str(Path(v["home"], "state")),
            "Pulumi state backend URL: file://, s3://, postgres://, ..."),
    Setting("passphrase", "STOREKIT_PASSPHRASE", None,
            "Passphrase that encrypts stack secrets (default: a generated key file under home).",
            secret=True),
    Setting("db_url", "STOREKIT_DB_URL", lambda v: "sqlite:///" + str(Path(v["home"], "storekit.db")),
            "Catalog database URL: sqlite:///path or postgresql://..."),
    Setting("parallel", "STOREKIT_PARALLEL", 3,
            "How many stores a fleet operation changes at once.", type=int),
    Setting("timeout", "STOREKIT_TIMEOUT", 300,
            "Seconds a store may take to become ready before the apply fails.", type=int),
    Setting("store_domain", "STOREKIT_STORE_DOMAIN", "stores.localhost",
            "Domain under which each store gets <slug>.<domain>."),
    Setting("ingress_class", "STOREKIT_INGRESS_CLASS", "sim",
            "IngressClass of store Ingresses ('sim' is the local cluster's simulated controller)."),
    Setting("ingress_namespace", "STOREKIT_INGRESS_NAMESPACE", "traefik",
            "Namespace of the ingress controller; store NetworkPolicies admit traffic from it."),
    Setting("storage_class", "STOREKIT_STORAGE_CLASS", "standard",
            "StorageClass of store volumes."),
    Setting("node_pool", "STOREKIT_NODE_POOL", None,
            "Node pool of the stores' pods: they get the nodeSelector and the toleration "
            "storekit.io/node-pool=<pool> (the local real node's pool is 'real'; default: any node)."),
    Setting("images", "STOREKIT_IMAGES", "official",
            "Images of new stores: 'official' (each engine's declared images, e.g. wordpress:6.8 and "
            "mysql:8.4 from Docker Hub), 'local' (the images built here by `make images`, from "
            "home/images/index.json), or KEY=REF,... pairs overriding single images. A store's own "
            "`images` still win."),
    Setting("woocommerce_source", "STOREKIT_WOOCOMMERCE_SOURCE", "wordpress.org",
            "Where the setup Job gets the WooCommerce plugin: 'wordpress.org', an http(s) URL of its "
            "zip (a mirror), or an absolute path inside the WordPress image (air-gapped sites)."),
    Setting("woocommerce_optional", "STOREKIT_WOOCOMMERCE_OPTIONAL", False,
            "Allow stores without WooCommerce when its source cannot be reached: the store runs "
            "WordPress alone and outputs, health, the API and the dashboard say \"WooCommerce not "
            "installed\" with the reason. Off: the setup Job fails with that reason.", type=bool),
    Setting("tls_issuer", "STOREKIT_TLS_ISSUER", None,
            "cert-manager ClusterIssuer for store TLS (default: no TLS)."),
    Setting("await_ingress", "STOREKIT_AWAIT_INGRESS", True,
            "Wait for the ingress controller to admit each store's Ingress; turn off on a "
            "cluster without an ingress controller.", type=bool),
    Setting("policy_file", "STOREKIT_POLICY_FILE", None,
            "YAML file of policy rules every plan is checked against (default: no rules); "
            "a mandatory rule that fails blocks apply (exit code 8, HTTP 403)."),
    Setting("two_person", "STOREKIT_TWO_PERSON", False,
            "Two-person rule: a plan is applied only after a different admin approved it (by its hash).",
            type=bool),
    Setting("drift_interval", "STOREKIT_DRIFT_INTERVAL", None,
            "Seconds between drift checks of every store by the workers (default: no scheduled checks).",
            type=int),
    Setting("expiry_grace", "STOREKIT_EXPIRY_GRACE", 3600,
            "Seconds before a store's expires_at that the dashboard warns it is expiring.", type=int),
    Setting("pulumi", "STOREKIT_PULUMI", None,
            "Path of the pulumi CLI (default: home/tools/bin/pulumi, then PATH)."),
    Setting("pulumi_home", "STOREKIT_PULUMI_HOME", _home_path("pulumi"),
            "PULUMI_HOME of every engine run: where the Kubernetes plugin is installed."),
    Setting("store_role", "STOREKIT_STORE_ROLE", None,
            "ClusterRole that storekit binds to its own service account inside each store namespace it "
            "creates (least privilege: the chart sets it; default: none, the kubeconfig's rights are used)."),
    Setting("service_account", "STOREKIT_SERVICE_ACCOUNT", None,
            "NAMESPACE/NAME of storekit's own service account, the subject of STOREKIT_STORE_ROLE's bindings."),
    Setting("backup_location", "STOREKIT_BACKUP_LOCATION", _home_path("backups"),
            "Where `storekit backup` writes and `backups`/`restore` read: a directory, or s3://bucket/prefix "
            "on an S3-compatible server (docs/backups.md)."),
    Setting("s3_endpoint", "STOREKIT_S3_ENDPOINT", None,
            "URL of the S3-compatible server of s3:// backup locations (e.g. https://s3.eu-west-1.amazonaws.com)."),
    Setting("s3_access_key", "STOREKIT_S3_ACCESS_KEY", None, "Access key id for s3:// backup locations."),
    Setting("s3_secret_key", "STOREKIT_S3_SECRET_KEY", None, "Secret access key for s3:// backup locations.",
            secret=True),
    Setting("s3_region", "STOREKIT_S3_REGION", "us-east-1", "Region the S3 requests are signed for."),
    Setting("safe_upgrades", "STOREKIT_SAFE_UPGRADES", True,
            "Apply an image change of a running store as a safe upgrade: back up first, check health after, "
            "roll back (previous images, backup restored) on failure. Off where stores cannot be backed up "
            "(simulated nodes).", type=bool),
)

_BY_NAME = {s.name: s for s in SETTINGS}

# Named sets of defaults (STOREKIT_PROFILE). 'node': the local real node that `make node`
# starts (kind/node.sh): images built here, its pool's label and taint, its volumes and its
# Traefik. WooCommerce is optional there: its source (wordpress.org) is not reachable from
# these machines, so a store runs WordPress and says "WooCommerce not installed".
PROFILES: dict[str, dict[str, Any]] = {
    "node": {"images": "local", "node_pool": "real", "storage_class": "node-local",
             "ingress_class": "traefik", "ingress_namespace": "traefik", "woocommerce_optional": True},
}
IN_CLUSTER = "in-cluster"  # the kubeconfig value that means: this pod's service account
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(setting: Setting, raw: Any) -> Any:
    if raw is None or setting.type is str:
        return raw
    if setting.type is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise SpecError({setting.name: f"must be true or false, got {raw!r}"}, subject="setting")
    try:
        value = setting.type(raw)
    except (TypeError, ValueError) as e:
        raise SpecError({setting.name: f"must be a whole number, got {raw!r}"}, subject="setting") from e
    if value <= 0:
        raise SpecError({setting.name: f"must be positive, got {raw!r}"}, subject="setting")
    return value


@dataclass(frozen=True)
class Settings:
    home: str
    kubeconfig: str
    context: str | None
    state_url: str
    passphrase: str | None
    db_url: str
    parallel: int
    timeout: int
    store_domain: str
    ingress_class: str
    ingress_namespace: str
    storage_class: str
    node_pool: str | None
    tls_issuer: str | None
    await_ingress: bool
    policy_file: str | None
    two_person: bool
    drift_interval: int | None
    expiry_grace: int
    pulumi: str | None
    pulumi_home: str
    store_role: str | None = None
    service_account: str | None = None
    profile: str | None = None
    images: str = "official"
    woocommerce_source: str = "wordpress.org"
    woocommerce_optional: bool = False
    backup_location: str | None = None
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    safe_upgrades: bool = True
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None,
             environ: Mapping[str, str] | None = None) -> "Settings":
        """Resolve every setting: ``overrides`` (non-None values) > environment > default."""
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        unknown = set(overrides) - set(_BY_NAME)
        if unknown:
            raise SpecError({k: "is not a storekit setting" for k in sorted(unknown)}, subject="settings")
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        profile: dict[str, Any] = {}
        for s in SETTINGS:
            if s.name in overrides:
                raw, src = overrides[s.name], "option"
            elif s.env in environ:
                raw, src = environ[s.env], f"env {s.env}"
            elif s.name in profile:
                raw, src = profile[s.name], f"profile {values['profile']}"
            else:
                raw = s.default(values) if callable(s.default) else s.default
                src = "default"
            values[s.name] = _convert(s, raw)
            sources[s.name] = src
            if s.name == "profile" and not values["profile"]:
                values["profile"] = None
            elif s.name == "profile":
                if values["profile"] not in PROFILES:
                    raise SpecError({"profile": f"must be one of {', '.join(PROFILES)} "
                                                f"(got {values['profile']!r})"}, subject="setting")
                profile = PROFILES[values["profile"]]
        values["home"] = str(Path(values["home"]).expanduser())
        return cls(**values, sources=sources)

    def replace(self, **changes: Any) -> "Settings":
        current = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sources"}
        return Settings.load({**current, **changes}, environ={})

    def describe(self, *, reveal: bool = False) -> list[dict]:
        """Every setting with its value and source; secrets hidden unless ``reveal``."""
        rows = []
        for s in SETTINGS:
            value = getattr(self, s.name)
            if s.secret and value is not None and not reveal:
                value = "(sensitive)"
            elif not reveal:
                value = redact_url(value)  # a URL's password (state_url, db_url) stays hidden
            rows.append({"name": s.name, "env": s.env, "value": value,
                         "source": self.sources.get(s.name, "option"), "help": s.help})
        return rows

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    @property
    def in_cluster(self) -> bool:
        """True when storekit talks to the cluster it runs in, with its service account."""
        return self.kubeconfig == IN_CLUSTER
