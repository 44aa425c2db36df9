"""What the catalog hands out: frozen records, never live database models.

Callers read stores, timeline entries, audit entries, jobs and tokens as these
dataclasses; only ``storekit.catalog`` touches the Peewee models behind them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from ..vocabulary import JOB_KINDS, JOB_STATUSES, STORE_STATUSES, TOKEN_ROLES  # noqa: F401 (re-exported)


def iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=timezone.utc).isoformat(timespec="seconds") if value else None


class _Record:
    _times: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for name in self._times:
            d[name] = iso(d[name])
        return d


@dataclass(frozen=True)
class StoreRecord(_Record):
    id: int
    name: str
    slug: str
    namespace: str
    engine: str
    tier: str
    admin_email: str
    spec: dict
    status: str
    url: str | None
    admin_url: str | None
    error_message: str | None
    created_at: datetime
    provisioned_at: datetime | None
    updated_at: datetime
    _times = ("created_at", "provisioned_at", "updated_at")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.pop("spec")  # the desired spec has its own call (service.desired_spec)
        return d


@dataclass(frozen=True)
class EventRecord(_Record):
    id: int
    store_id: int
    step: str
    status: str  # started | finished | failed | info
    resource: str | None
    message: str | None
    seconds: float | None
    created_at: datetime
    _times = ("created_at",)


@dataclass(frozen=True)
class AuditRecord(_Record):
    id: int
    action: str
    resource_type: str
    resource_id: str | None
    resource_name: str | None
    actor: str
    source: str
    ip_address: str | None
    outcome: str
    details: dict | None
    created_at: datetime
    _times = ("created_at",)


@dataclass(frozen=True)
class JobRecord(_Record):
    id: int
    kind: str
    store: str
    payload: dict | None
    status: str
    error: str | None
    actor: str
    source: str
    ip_address: str | None
    worker: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    _times = ("created_at", "started_at", "finished_at", "heartbeat_at")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        for private in ("payload", "ip_address", "worker", "heartbeat_at"):
            d.pop(private)
        return d


@dataclass(frozen=True)
class TokenRecord(_Record):
    id: int
    name: str
    role: str
    token_hash: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    _times = ("created_at", "last_used_at", "expires_at", "revoked_at")

    def state(self, now: datetime) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at is not None and self.expires_at <= now else "active"

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.pop("token_hash")
        return d


@dataclass(frozen=True)
class SessionRecord(_Record):
    id: str
    token_id: int
    token_hash: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    _times = ("created_at", "expires_at", "ended_at")
