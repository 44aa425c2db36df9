"""The recorded state: one Pulumi stack per store in the state backend.

Every store is the stack ``<slug>`` of the Pulumi project ``storekit`` in the backend at
``settings.state_url`` (``file://$STOREKIT_HOME/state`` by default). Each stack gets its
own workspace folder (``$STOREKIT_HOME/work/<slug>``) so that parallel operations never
share files, and every pulumi process gets its settings through ``env_vars`` (never
``os.environ``), which keeps parallel threads apart. Stack secrets are encrypted with
``STOREKIT_PASSPHRASE`` or, without it, a generated key file (0600) under home.

Engine errors are translated here into storekit's hierarchy, scrubbed of secrets.
"""

from __future__ import annotations

import json
import os
import re
import secrets as _secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from pulumi import automation as auto

from .errors import ClusterUnreachable, OperationFailed, OperationTimeout, StoreBusy, StorekitError
from .events import scrub
from .settings import Settings
from .toolchain import pulumi_command, pulumi_env

PROJECT = "storekit"

_LOCK_HOLDER = re.compile(r"created by (?P<who>\S+) \(pid (?P<pid>\d+)\) at (?P<at>[0-9T:.+\-Z ]+)")
_UNREACHABLE = ("connection refused", "unable to load kubernetes client", "cluster is unreachable",
                "no such host", "i/o timeout", "failed to read kubeconfig", "unable to read kubectl config")


@dataclass(frozen=True)
class StackInfo:
    name: str
    last_update: str | None
    resource_count: int
    update_in_progress: bool


class Backend:
    def __init__(self, settings: Settings):
        self.settings = settings

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

    def workspace(self) -> auto.LocalWorkspace:
        return auto.LocalWorkspace(**vars(self._options(self.work_dir("_workspace"))))

    # ---- stacks --------------------------------------------------------------------

    def select(self, slug: str, program: Callable | None = None) -> auto.Stack | None:
        """The store's stack, or None when the backend has no such stack."""
        try:
            return auto.select_stack(stack_name=slug, project_name=PROJECT,
                                     program=program or _no_program,
                                     opts=self._options(self.work_dir(slug)))
        except auto.StackNotFoundError:
            return None
        except auto.CommandError as e:
            raise translate(e, slug) from e

    def create(self, slug: str, program: Callable) -> auto.Stack:
        try:
            return auto.create_or_select_stack(stack_name=slug, project_name=PROJECT, program=program,
                                               opts=self._options(self.work_dir(slug)))
        except auto.CommandError as e:
            raise translate(e, slug) from e

    def remove(self, slug: str) -> None:
        try:
            self.workspace().remove_stack(slug)
        except auto.StackNotFoundError:
            pass
        except auto.CommandError as e:
            raise translate(e, slug) from e

    def list(self) -> list[StackInfo]:
        try:
            summaries = self.workspace().list_stacks()
        except auto.CommandError as e:
            raise translate(e, "*") from e
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

    @staticmethod
    def export(stack: auto.Stack | None) -> dict | None:
        if stack is None:
            return None
        try:
            return stack.export_stack().deployment or {}
        except auto.CommandError as e:
            raise translate(e, stack.name) from e

    @staticmethod
    def outputs(stack: auto.Stack) -> dict:
        try:
            return {k: v.value for k, v in stack.outputs().items()}
        except auto.CommandError as e:
            raise translate(e, stack.name) from e


def _no_program() -> None:
    """Placeholder program for stacks opened only to read or remove them."""


_NOISE = re.compile(r"^(error: )?(preview failed: |update failed: )?(\d+ errors? occurred:)?\s*(\* )?"
                    r"(the kubernetes api server reported that )?", re.IGNORECASE)


_RESOURCE = re.compile(r'resource "urn:[^"]*::([^":]+)" was successfully created, but the Kubernetes API '
                       r'server reported that it ', re.IGNORECASE)


def summarize(diagnostics: Iterable[str]) -> str:
    """The first meaningful error line of the engine's diagnostics, without its boilerplate."""
    for d in diagnostics:
        for line in d.splitlines():
            line = _NOISE.sub("", line.strip().lstrip("\t* ")).strip()
            line = _RESOURCE.sub(r"\1 ", line)
            if line and line.lower() not in ("preview failed", "update failed", "destroy failed"):
                return line
    return ""


def translate(error: auto.CommandError, slug: str, secrets: Iterable[str] = (),
              diagnostics: Iterable[str] = (), warnings: Iterable[str] = ()) -> StorekitError:
    """A storekit error for a failed pulumi command, with every known secret scrubbed.

    ``warnings`` (the last warning of each failed resource) say what the cluster reported
    while it waited; they are added to the message because they usually name the cause.
    """
    secrets = list(secrets)
    text = scrub(f"{error}", secrets)
    diagnostics = [scrub(d, secrets) for d in diagnostics]
    detail = "\n".join(diagnostics) or text
    low = text.lower()
    if isinstance(error, auto.ConcurrentUpdateError) or "currently locked" in low:
        m = _LOCK_HOLDER.search(text)
        return StoreBusy(slug, holder=f"{m['who']} (pid {m['pid']})" if m else None,
                         since=m["at"].strip() if m else None)
    if any(s in low for s in _UNREACHABLE):
        return ClusterUnreachable(
            f"the Kubernetes cluster is unreachable while changing store '{slug}'",
            hint="Check that it runs (`make cluster-status`) and STOREKIT_KUBECONFIG.")
    first = summarize(diagnostics) or summarize(text.splitlines()[3:]) or "the engine failed"
    warnings = [scrub(w, secrets) for w in warnings]
    if warnings:
        first += f" (cluster said: {'; '.join(warnings)})"
    if "timed out" in detail.lower() or "timeout occurred" in detail.lower():
        return OperationTimeout(
            f"store '{slug}' did not become ready in time: {first}", details=detail,
            hint="Check `storekit health` and the pod logs; raise STOREKIT_TIMEOUT if it is only slow.")
    return OperationFailed(f"changing store '{slug}' failed: {first}", details=detail)
