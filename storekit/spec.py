"""What a store is: the desired state (``StoreSpec``) and its slug.

What a spec may say depends on its engine: tiers and images come from the engine's
declared shape (``storekit.engine``). A ``StoreSpec`` is validated as a whole: ``validate()`` (called by ``resolve()`` and by
the engine before anything runs) raises one ``SpecError`` naming every bad field and the
rule it broke. Platform settings a store inherits (store domain, ingress class, storage
class, TLS issuer) are left ``None`` by callers and filled from ``Settings`` by
``resolve()``, so a saved plan records exactly what was planned.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from .engines import DEFAULT_ENGINE, registry
from .errors import SpecError

NAMESPACE_PREFIX = "store-"
MAX_SLUG = 63 - len(NAMESPACE_PREFIX)
MAX_NAME = 63

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
                    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_DNS_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")


def parse_time(text) -> datetime | None:
    """An aware UTC datetime from ISO text (naive means UTC), or None."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def expiry_from_ttl(ttl) -> str | None:
    """``now + ttl`` as ISO text for "90m", "12h", "7d" (None when not a duration)."""
    match = re.fullmatch(r"([0-9]{1,5})([mhd])", ttl) if isinstance(ttl, str) else None
    if not match:
        return None
    seconds = int(match.group(1)) * {"m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat(timespec="seconds")


def slugify(name: str) -> str:
    """DNS-1123 label from a store name: ``"My Test Shop!"`` -> ``"my-test-shop"``.

    Accents are folded to ASCII; anything else that is not a letter or digit becomes a
    dash; the result fits ``store-<slug>`` in 63 characters. May return ``""``.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:MAX_SLUG].rstrip("-")


_CRON_FIELD = re.compile(r"^(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?(,(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?)*$")


def backup_problems(backup: Any) -> list[tuple[str, str]]:
    """The rules of a spec's ``backup``: a cron schedule of five fields, ``keep`` 1 to 1000."""
    if backup is None:
        return []
    if not isinstance(backup, Mapping):
        return [("backup", "must be a mapping like {schedule: \"0 3 * * *\", keep: 7}")]
    p = [(f"backup.{k}", "is not a backup field (schedule, keep)") for k in sorted(set(backup) - {"schedule", "keep"})]
    schedule = backup.get("schedule")
    fields_ = schedule.split() if isinstance(schedule, str) else []
    if len(fields_) != 5 or not all(_CRON_FIELD.match(f) for f in fields_):
        p.append(("backup.schedule", f"must be a cron schedule of five fields like \"0 3 * * *\" (got {schedule!r})"))
    keep = backup.get("keep", 7)
    if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= 1000:
        p.append(("backup.keep", f"must be a whole number from 1 to 1000 (got {keep!r})"))
    return p


@dataclass(frozen=True)
class StoreSpec:
    """The desired state of one store."""

    name: str
    admin_email: str
    engine: str = DEFAULT_ENGINE
    tier: str = "small"
    admin_user: str = "admin"
    images: Mapping[str, str] = field(default_factory=dict)  # overrides of the engine's images
    # Inherited from the platform settings when None (see resolve()).
    store_domain: str | None = None
    ingress_class: str | None = None
    storage_class: str | None = None
    tls_issuer: str | None = None
    # When the store is destroyed by the reaper (an ISO time, UTC): for preview stores.
    # ``ttl`` ("2h", "7d") in from_dict sets it from now.
    expires_at: str | None = None
    # Scheduled backups: {"schedule": "0 3 * * *", "keep": 7} (docs/backups.md); None: none.
    backup: Mapping[str, Any] | None = None

    @property
    def slug(self) -> str:
        return slugify(self.name)

    @property
    def namespace(self) -> str:
        return NAMESPACE_PREFIX + self.slug

    @property
    def host(self) -> str:
        return f"{self.slug}.{self.store_domain}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_issuer else 'http'}://{self.host}"

    def problems(self) -> list[tuple[str, str]]:
        """Every rule this spec breaks, as (field, rule) pairs; empty when valid."""
        p: list[tuple[str, str]] = []
        name = self.name if isinstance(self.name, str) else ""
        if not isinstance(self.name, str) or not name.strip():
            p.append(("name", "is required"))
        elif len(name) > MAX_NAME:
            p.append(("name", f"must be at most {MAX_NAME} characters (got {len(name)})"))
        elif not name.isprintable():
            p.append(("name", "must contain only printable characters"))
        elif not self.slug:
            p.append(("name", "must contain at least one letter or digit (it slugs to nothing)"))
        email = self.admin_email if isinstance(self.admin_email, str) else ""
        if not email:
            p.append(("admin_email", "is required"))
        elif len(email) > 254 or not _EMAIL.match(email):
            p.append(("admin_email", f"must be an email address like owner@example.com (got {email!r})"))
        if not isinstance(self.admin_user, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,60}", self.admin_user):
            p.append(("admin_user", "must be 1-60 letters, digits, '.', '_' or '-'"))
        p += self._engine_problems()
        if self.store_domain is not None and (not _DNS_NAME.match(self.store_domain)
                                              or len(self.host) > 253):
            p.append(("store_domain", "must be a DNS name like stores.example.com"))
        if self.expires_at is not None and parse_time(self.expires_at) is None:
            p.append(("expires_at", "must be an ISO date and time like 2026-12-24T18:00:00+00:00"))
        p += backup_problems(self.backup)
        for attr in ("ingress_class", "storage_class", "tls_issuer"):
            value = getattr(self, attr)
            if value is not None and (not isinstance(value, str) or not _DNS_NAME.match(value)):
                p.append((attr, "must be a Kubernetes object name (lowercase letters, digits, '-', '.')"))
        return p

    def _engine_problems(self) -> list[tuple[str, str]]:
        """The rules the spec's engine sets: its tiers and its images."""
        engines = registry()
        engine = engines.get(self.engine) if isinstance(self.engine, str) else None
        if engine is None:
            return [("engine", f"must be one of {', '.join(sorted(engines))} (got {self.engine!r})")]
        if not engine.available:
            return []  # planning it raises EngineUnavailable, which says more
        p = []
        if self.tier not in engine.tier_names:
            p.append(("tier", f"must be one of {', '.join(engine.tier_names)} (got {self.tier!r})"))
        images = dict(self.images) if isinstance(self.images, Mapping) else {}
        known = {**engine.images, **engine.optional_images}
        for key in sorted(set(images) - set(known)):
            p.append((f"images.{key}", f"is not an image of a {engine.name} store "
                                       f"(known: {', '.join(known) or 'none'})"))
        for key in [*engine.images, *(k for k in engine.optional_images if k in images)]:
            ref = images.get(key, known[key])
            if not isinstance(ref, str) or not _IMAGE.match(ref) or len(ref) > 255:
                p.append((f"images.{key}", "must be an image reference like repo/name:tag"))
        return p

    def validate(self) -> "StoreSpec":
        problems = self.problems()
        if problems:
            raise SpecError(problems)
        return self

    def resolve(self, settings) -> "StoreSpec":
        """Fill the inherited platform settings, then validate."""
        from .images import images_for

        engine = registry().get(self.engine)
        defaults = images_for(engine, settings, optional=("backup",) if self.backup else ()) if engine else {}
        retired = set(engine.retired_images) if engine else set()
        filled = replace(
            self,
            images={**defaults, **{k: v for k, v in dict(self.images or {}).items() if k not in retired}}
            if isinstance(self.images, Mapping) else self.images,
            store_domain=self.store_domain if self.store_domain is not None else settings.store_domain,
            ingress_class=self.ingress_class if self.ingress_class is not None else settings.ingress_class,
            storage_class=self.storage_class if self.storage_class is not None else settings.storage_class,
            tls_issuer=self.tls_issuer if self.tls_issuer is not None else settings.tls_issuer,
        )
        return filled.validate()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["images"] = dict(self.images)
        if self.backup is None:
            del d["backup"]  # specs without a schedule keep their shape (and their hashes)
        else:
            d["backup"] = dict(self.backup)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StoreSpec":
        """Build a spec from plain data (a fleet file entry, a JSON body), rejecting unknown keys."""
        if not isinstance(data, Mapping):
            raise SpecError([("store", "must be a mapping of fields")])
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"slug", "email", "ttl"})
        problems = [(k, "is not a store field") for k in unknown]
        values = {k: v for k, v in data.items() if k in known}
        if "ttl" in data:
            expires = expiry_from_ttl(data["ttl"])
            if expires is None:
                problems.append(("ttl", "must be a duration like 90m, 12h or 7d"))
            elif "expires_at" in data:
                problems.append(("ttl", "give ttl or expires_at, not both"))
            else:
                values["expires_at"] = expires
        if "email" in data and "admin_email" not in data:
            values["admin_email"] = data["email"]
        for required in ("name", "admin_email"):
            values.setdefault(required, "")
        if problems:
            spec_problems = cls(**values).problems() if all(
                isinstance(values.get(k), str) for k in ("name", "admin_email")) else []
            raise SpecError(problems + spec_problems)
        return cls(**values)

    def with_changes(self, **changes: Any) -> "StoreSpec":
        """A copy with ``changes`` applied (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
