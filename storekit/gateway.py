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

import base64
import json
import secrets as _secrets
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable


from . import procs
from .classify import json_diagnostics, translate
from .errors import SpecError, StorageFull, no_space
from .events import scrub
from .files import atomic_write, secret_file
from .jobwatch import JobWatch
from .plan import fingerprint
from .recovery import (Repair, adopt_field_managers, pending_operations, repair_file_state, repair_lock_files,
                       resolve_pending)
from .settings import Settings
from .spec import StoreSpec
from .toolchain import LazyModule, cluster_api, describe_cluster, pulumi_command, pulumi_env
from .upresult import StackOutputs

auto = LazyModule("pulumi.automation")

PROJECT = "storekit"
PROJECT_FILE = f"name: {PROJECT}\nruntime: python\n"  # every work folder's Pulumi.yaml
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
    repair: Repair | None = None  # what an interrupted run left and was repaired (snapshot(repair=True))

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
            raise translate(e, slug, secrets, diagnostics(), warnings(),
                            cluster=describe_cluster(self.settings)) from e
        except OSError as e:  # the SDK writing the workspace's files
            if no_space(e):
                raise StorageFull("the engine's working folder", e.filename) from e
            raise

    # ---- environment ---------------------------------------------------------------

    def passphrase_env(self) -> dict[str, str]:
        if self.settings.passphrase:
            return {"PULUMI_CONFIG_PASSPHRASE": self.settings.passphrase}
        key = self.settings.home_path / "passphrase"
        secret_file(key, lambda: _secrets.token_urlsafe(32))
        return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(key)}

    def env(self) -> dict[str, str]:
        url = self.settings.state_url
        if url.startswith("file://"):
            Path(url[len("file://"):]).mkdir(parents=True, exist_ok=True)
        return {**pulumi_env(self.settings), **self.passphrase_env()}

    def work_dir(self, slug: str) -> Path:
        """The stack's work folder, with its project file. The file is written here, whole and
        once, never by the Automation API: given project settings, every LocalWorkspace
        rewrites Pulumi.yaml in place (truncated, then written), and a pulumi process of the
        same folder reading it meanwhile failed "could not validate 'Pulumi.yaml'"."""
        path = self.settings.home_path / "work" / slug
        path.mkdir(parents=True, exist_ok=True)
        project = path / "Pulumi.yaml"
        try:
            current = project.read_text()
        except FileNotFoundError:
            current = None
        if current != PROJECT_FILE:
            atomic_write(project, PROJECT_FILE)
        return path

    def _options(self, work_dir: Path) -> auto.LocalWorkspaceOptions:
        return auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            pulumi_command=pulumi_command(self.settings),
            env_vars=self.env(),
            # The project file is work_dir's (PROJECT_FILE). The backend comes from
            # PULUMI_BACKEND_URL (pulumi_env), never from Pulumi.yaml: a state URL may carry a
            # password, and the project file is on disk.
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

    def snapshot(self, slug: str, *, repair: bool = False) -> Snapshot:
        """Select the stack once and read its outputs, deployment and (when the outputs
        lack them) the secrets kept in its config. With ``repair``, what an interrupted
        run left behind is repaired first (``Snapshot.repair`` says what was done)."""
        files = self._repair_files(slug) if repair else []
        stack = self.select(slug)
        if stack is None:
            return Snapshot(slug=slug, stack=None)
        with self._engine(slug):
            deployment = stack.export_stack().deployment or {}
        fixed = None
        if repair:
            fixed, deployment = self._repair(slug, stack, deployment)
            if files:
                fixed = replace(fixed, files=tuple(files))
        with self._engine(slug):
            # Not `stack output` twice (masked, then revealed): the stack's outputs are in the
            # deployment, secrets as plaintext (export runs with --show-secrets).
            outputs = stack_outputs(deployment)
            config_secrets = None
            if not isinstance(outputs.get("secrets"), dict):
                try:
                    config_secrets = json.loads(stack.get_config(SECRETS_CONFIG_KEY).value)
                except (auto.CommandError, ValueError):
                    config_secrets = None  # never applied far enough to keep any
        return Snapshot(slug=slug, stack=stack, outputs=outputs, deployment=deployment,
                        config_secrets=config_secrets, repair=fixed)

    def fingerprint(self, slug: str) -> str:
        """The fingerprint of the stack's recorded state, read now (``absent`` without a stack)."""
        stack = self.select(slug)
        if stack is None:
            return fingerprint(None)
        with self._engine(slug):
            return fingerprint(stack.export_stack().deployment or {})

    def create(self, slug: str, program: Callable) -> auto.Stack:
        """A new stack (callers found none: ``stack init`` alone, not ``select`` again first);
        one another process created meanwhile is selected instead."""
        opts = self._options(self.work_dir(slug))
        with self._engine(slug):
            try:
                return auto.create_stack(stack_name=slug, project_name=PROJECT, program=program, opts=opts)
            except auto.StackAlreadyExistsError:
                return auto.select_stack(stack_name=slug, project_name=PROJECT, program=program, opts=opts)

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
        """(who, since) when an update of the stack holds its lock (file:// and
        postgres:// backends; others report a held lock when the update starts)."""
        for info in _lock_infos(self.settings.state_url, slug):
            return (f"{info.get('username', '?')}@{info.get('hostname', '?')} (pid {info.get('pid', '?')})",
                    str(info.get("timestamp", "")))
        return None

    def _repair_files(self, slug: str) -> list[str]:
        """Half-written state files of a file:// backend, removed unless a live process
        holds the stack's lock (``recovery.repair_file_state``)."""
        url = self.settings.state_url
        if not url.startswith("file://"):
            return []
        holder = self.lock_holder(slug)
        process = procs.parse_holder(holder[0]) if holder else None
        if holder and (process is None or not procs.gone(*process)):
            return []
        root = Path(url[len("file://"):], ".pulumi")
        return (repair_file_state(root / "stacks" / PROJECT, slug)
                + repair_lock_files(root / "locks" / "organization" / PROJECT / slug))

    def _repair(self, slug: str, stack: auto.Stack, deployment: dict) -> tuple[Repair, dict]:
        """Undo what an interrupted engine run left in the stack (``storekit.recovery``):
        a lock whose holder provably no longer runs is cancelled; pending operations are
        resolved and the stack refreshed, so adopted objects carry their live state.
        (the repair, the deployment now)."""
        cleared = None
        holder = self.lock_holder(slug)
        if holder:
            process = procs.parse_holder(holder[0])
            if process is None or not procs.gone(*process):
                return Repair(store=slug), deployment  # a live update: the caller meets StoreBusy
            self.cancel(stack)
            cleared = holder[0]
        if not pending_operations(deployment):
            return Repair(store=slug, lock_cleared=cleared), deployment
        resolution = resolve_pending(deployment)
        with self._engine(slug):
            stack.import_stack(auto.Deployment(version=3, deployment=resolution.deployment))
            stack.refresh(color="never", suppress_outputs=True)
            deployment = stack.export_stack().deployment or {}
            deployment, managers = adopt_field_managers(deployment, resolution.adopted)
            if managers:
                stack.import_stack(auto.Deployment(version=3, deployment=deployment))
        return Repair(store=slug, lock_cleared=cleared, adopted=tuple(resolution.adopted),
                      dropped=tuple(resolution.dropped), refreshed=True), deployment

    # ---- operations ----------------------------------------------------------------

    def preview(self, stack: auto.Stack, program, *, refresh: bool, secrets: Iterable[str],
                save_plan: Path | None = None) -> dict:
        """The engine's preview digest (``pulumi preview --json``); with ``save_plan``, the
        engine's update plan is written there (``--save-plan``, ``storekit.engineplan``)."""
        out: list[str] = []
        with self._engine(stack.name, secrets, lambda: json_diagnostics("\n".join(out))):
            result = stack.preview(program=program, json=True, refresh=refresh, color="never",
                                   on_output=out.append, plan=str(save_plan) if save_plan else None)
        return json.loads(result.stdout)

    def keep_secrets(self, stack: auto.Stack, secrets: dict[str, str]) -> None:
        """Write the secrets into the stack's config before the first update, so a failed
        first apply keeps them."""
        with self._engine(stack.name, secrets.values()):
            stack.set_config(SECRETS_CONFIG_KEY, auto.ConfigValue(json.dumps(secrets), secret=True))

    def up(self, stack: auto.Stack, program, *, refresh: bool, translator, plan: Path | None = None) -> dict:
        """Run the update, bound to the engine's update plan at ``plan`` when given (``--plan``:
        the engine refuses any step the plan does not contain); the stack's outputs after it
        (read by the SDK's ``up`` anyway). A Job the engine waits for that fails stops the
        update at once (``JobFailed``, storekit.jobwatch)."""
        watch = JobWatch(lambda: cluster_api(self.settings)[1], stack.name, translator)
        seen = StackOutputs(watch)
        with self._engine(stack.name, translator.secrets, lambda: translator.errors, translator.failure_warnings):
            with watch, seen.serving(stack):
                try:
                    stack.up(program=program, on_event=seen, refresh=refresh, color="never",
                             show_secrets=False, suppress_outputs=True, plan=str(plan) if plan else None)
                except auto.CommandError as e:
                    if watch.failure is None:
                        raise
                    raise watch.failure.error(stack.name, lambda text: scrub(text, translator.secrets)) from e
        return seen.outputs

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
    from .manifests import revealed

    for resource in (deployment or {}).get("resources") or ():
        if resource.get("type") == "pulumi:pulumi:Stack":
            return revealed(resource.get("outputs") or {})
    return {}


def _lock_infos(url: str, slug: str) -> list[dict]:
    """The lock files of a stack in a file:// or postgres:// backend (pulumi's own layout:
    ``.pulumi/locks/organization/<project>/<stack>/<id>.json``)."""
    key = f".pulumi/locks/organization/{PROJECT}/{slug}/"
    blobs: list[str] = []
    if url.startswith("file://"):
        for lock in sorted(Path(url[len("file://"):], key).glob("*.json")):
            try:
                blobs.append(lock.read_text())
            except OSError:
                continue
    elif url.startswith(("postgres://", "postgresql://")):
        blobs = _postgres_blobs(url, key)
    infos = []
    for blob in blobs:
        try:
            info = json.loads(blob) if isinstance(blob, str) else blob
            if isinstance(info, dict) and set(info) == {"data"}:  # postgres: {"data": base64 of the file}
                info = json.loads(base64.b64decode(info["data"]))
        except ValueError:
            continue
        if isinstance(info, dict):
            infos.append(info)
    return infos


def _postgres_blobs(url: str, prefix: str) -> list:
    """Rows under ``prefix`` in the postgres backend's table (``pulumi_state`` unless the
    URL names another with ``table=``). Its keys carry a folder before pulumi's layout
    (``state/.pulumi/locks/...``), so ``prefix`` is matched after any folder."""
    from urllib.parse import parse_qs, urlsplit, urlunsplit, urlencode

    import psycopg2

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    table = (query.pop("table", ["pulumi_state"]) or ["pulumi_state"])[0]
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query, doseq=True), ""))
    try:
        with psycopg2.connect(dsn, connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute(f'SELECT data::text FROM "{table}" WHERE key LIKE %s OR key LIKE %s ORDER BY key',
                        (prefix + "%", "%/" + prefix + "%"))
            return [row[0] for row in cur.fetchall()]
    except psycopg2.Error:
        return []  # the update itself will report what is wrong with the backend


def _no_program() -> None:
    """Placeholder program for stacks opened only to read or remove them."""
