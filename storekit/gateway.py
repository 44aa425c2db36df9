"""The stack gateway: every call into the engine, and the recorded state of a store.

Every store is the stack ``<slug>`` of the Pulumi project ``storekit`` in the backend at
``settings.state_url`` (``file://$STOREKIT_HOME/state`` by default). Each stack gets its
own workspace folder (``$STOREKIT_HOME/work/<slug>``) so that parallel operations never
share files, and every pulumi process gets its settings through ``env_vars`` (never
``os.environ``), which keeps parallel threads apart. Stack secrets are encrypted with
``STOREKIT_PASSPHRASE`` or, without it, a generated key file (0600) under home.

Nothing else in storekit calls the Automation API. Every call here runs inside
``_engine``, the single point where a ``CommandError`` is classified (``classify``).
``snapshot(slug)`` loads what an operation needs to know of a stack (outputs,
deployment, recorded spec, secrets) once, so an operation never selects a stack twice.
"""

from __future__ import annotations

import json
import os
import secrets as _secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable


from .classify import json_diagnostics, translate
from .errors import SpecError
from .plan import fingerprint
from .settings import Settings
from .spec import StoreSpec
from .toolchain import LazyModule, pulumi_command, pulumi_env

auto = LazyModule("pulumi.automation")

PROJECT = "storekit"
SECRETS_CONFIG_KEY = "storekit:secrets"


@dataclass(frozen=True)
class StackInfo:
    name: str
    last_update: str | None
    resource_count: int
    update_in_progress: bool


@dataclass
class Snapshot:
    """A stack's recorded state, loaded once per operation (``stack`` is None when absent)."""

    slug: str
    stack: auto.Stack | None
    outputs: dict = field(default_factory=dict)
    deployment: dict | None = None
    config_secrets: dict | None = None

    @property
    def exists(self) -> bool:
        return self.stack is not None

    @property
    def has_resources(self) -> bool:
        return bool((self.deployment or {}).get("resources"))

    @property
    def spec(self) -> StoreSpec | None:
        """The spec the store was last applied with."""
        try:
            raw = self.outputs.get("spec")
            return StoreSpec.from_dict(raw) if isinstance(raw, dict) else None
        except SpecError:
            return None

    @property
    def secrets(self) -> dict[str, str] | None:
        """The store's generated secrets: from its outputs, else its config (a failed first apply)."""
        if isinstance(self.outputs.get("secrets"), dict):
            return dict(self.outputs["secrets"])
        return self.config_secrets

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.deployment)


class StackGateway:
    def __init__(self, settings: Settings):
        self.settings = settings

    # ---- the single translate point ----------------------------------------------

    @contextmanager
    def _engine(self, slug: str, secrets: Iterable[str] = (), diagnostics: Callable[[], Iterable[str]] = tuple,
                warnings: Callable[[], Iterable[str]] = tuple):
        try:
            yield
        except auto.CommandError as e:
            raise translate(e, slug, secrets, diagnostics(), warnings()) from e

    # ---- environment ---------------------------------------------------------------

    def passphrase_env(self) -> dict[str, str]:
        if self.settings.passphrase:
            return {"PULUMI_CONFIG_PASSPHRASE": self.settings.passphrase}
        key = self.settings.home_path / "passphrase"
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(_secrets.token_urlsafe(32))
        return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(key)}

    def env(self) -> dict[str, str]:
        url = self.settings.state_url
        if url.startswith("file://"):
            Path(url[len("file://"):]).mkdir(parents=True, exist_ok=True)
        return {**pulumi_env(self.settings), **self.passphrase_env()}

    def work_dir(self, slug: str) -> Path:
        path = self.settings.home_path / "work" / slug
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _options(self, work_dir: Path) -> auto.LocalWorkspaceOptions:
        return auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            pulumi_command=pulumi_command(self.settings),
            env_vars=self.env(),
            project_settings=auto.ProjectSettings(
                name=PROJECT, runtime="python", backend=auto.ProjectBackend(url=self.settings.state_url)),
            secrets_provider="passphrase",
        )

    def _workspace(self) -> auto.LocalWorkspace:
        return auto.LocalWorkspace(**vars(self._options(self.work_dir("_workspace"))))

    # ---- stacks --------------------------------------------------------------------

    def select(self, slug: str) -> auto.Stack | None:
        """The store's stack, or None when the backend has no such stack."""
        with self._engine(slug):
            try:
                return auto.select_stack(stack_name=slug, project_name=PROJECT, program=_no_program,
                                         opts=self._options(self.work_dir(slug)))
            except auto.StackNotFoundError:
                return None

    def snapshot(self, slug: str) -> Snapshot:
        """Select the stack once and read its outputs, deployment and (when the outputs
        lack them) the secrets kept in its config."""
        stack = self.select(slug)
        if stack is None:
            return Snapshot(slug=slug, stack=None)
        with self._engine(slug):
            # One export, not `stack output` twice (masked, then revealed): the stack's outputs
            # are in the deployment, secrets as plaintext (export runs with --show-secrets).
            deployment = stack.export_stack().deployment or {}
            outputs = stack_outputs(deployment)
            config_secrets = None
            if not isinstance(outputs.get("secrets"), dict):
                try:
                    config_secrets = json.loads(stack.get_config(SECRETS_CONFIG_KEY).value)
                except (auto.CommandError, ValueError):
                    config_secrets = None  # never applied far enough to keep any
        return Snapshot(slug=slug, stack=stack, outputs=outputs, deployment=deployment,
                        config_secrets=config_secrets)

    def fingerprint(self, slug: str) -> str:
        """The fingerprint of the stack's recorded state, read now (``absent`` without a stack)."""
        stack = self.select(slug)
        if stack is None:
            return fingerprint(None)
        with self._engine(slug):
            return fingerprint(stack.export_stack().deployment or {})

    def create(self, slug: str, program: Callable) -> auto.Stack:
        with self._engine(slug):
            return auto.create_or_select_stack(stack_name=slug, project_name=PROJECT, program=program,
                                               opts=self._options(self.work_dir(slug)))

    def remove(self, slug: str) -> None:
        with self._engine(slug):
            try:
                self._workspace().remove_stack(slug)
            except auto.StackNotFoundError:
                pass

    def list(self) -> list[StackInfo]:
        with self._engine("*"):
            summaries = self._workspace().list_stacks()
        return [StackInfo(name=s.name, last_update=s.last_update, resource_count=s.resource_count or 0,
                          update_in_progress=bool(s.update_in_progress)) for s in summaries]

    def lock_holder(self, slug: str) -> tuple[str, str] | None:
        """(who, since) when an update of the stack holds its lock (file:// backends).

        Other backends report a held lock when the update starts (ConcurrentUpdateError).
        """
        url = self.settings.state_url
        if not url.startswith("file://"):
            return None
        locks = Path(url[len("file://"):], ".pulumi", "locks", "organization", PROJECT, slug)
        for lock in sorted(locks.glob("*.json")):
            try:
                info = json.loads(lock.read_text())
            except (OSError, ValueError):
                continue
            return (f"{info.get('username', '?')}@{info.get('hostname', '?')} (pid {info.get('pid', '?')})",
                    str(info.get("timestamp", "")))
        return None

    # ---- operations ----------------------------------------------------------------

    def preview(self, stack: auto.Stack, program, *, refresh: bool, secrets: Iterable[str]) -> dict:
        """The engine's preview digest (``pulumi preview --json``)."""
        out: list[str] = []
        with self._engine(stack.name, secrets, lambda: json_diagnostics("\n".join(out))):
            result = stack.preview(program=program, json=True, refresh=refresh, color="never",
                                   on_output=out.append)
        return json.loads(result.stdout)

    def keep_secrets(self, stack: auto.Stack, secrets: dict[str, str]) -> None:
        """Write the secrets into the stack's config before the first update, so a failed
        first apply keeps them."""
        with self._engine(stack.name, secrets.values()):
            stack.set_config(SECRETS_CONFIG_KEY, auto.ConfigValue(json.dumps(secrets), secret=True))

    def up(self, stack: auto.Stack, program, *, refresh: bool, translator) -> dict:
        """Run the update; the stack's outputs after it (read by the SDK's ``up`` anyway)."""
        with self._engine(stack.name, translator.secrets, lambda: translator.errors, translator.failure_warnings):
            result = stack.up(program=program, on_event=translator, refresh=refresh, color="never",
                              show_secrets=False, suppress_outputs=True)
        return {k: v.value for k, v in result.outputs.items()}

    def destroy(self, stack: auto.Stack, *, translator) -> None:
        with self._engine(stack.name, translator.secrets, lambda: translator.errors, translator.failure_warnings):
            stack.destroy(on_event=translator, color="never", suppress_outputs=True)

    def outputs(self, stack: auto.Stack) -> dict:
        with self._engine(stack.name):
            return {k: v.value for k, v in stack.outputs().items()}

    def cancel(self, stack: auto.Stack) -> None:
        with self._engine(stack.name):
            stack.cancel()

    def last_update(self, stack: auto.Stack):
        """The stack's last update (its ``result`` and ``end_time``), or None."""
        with self._engine(stack.name):
            history = stack.history(page_size=1)
        return history[0] if history else None


def stack_outputs(deployment: dict | None) -> dict:
    """The stack's outputs, from an exported deployment (``--show-secrets``)."""
    from .plan import reveal

    for resource in (deployment or {}).get("resources") or ():
        if resource.get("type") == "pulumi:pulumi:Stack":
            return reveal(resource.get("outputs") or {})
    return {}


def _no_program() -> None:
    """Placeholder program for stacks opened only to read or remove them."""
