"""The ``storekit`` command group: global options, settings, and error handling.

Settings come from the options below and ``STOREKIT_*`` environment variables, resolved
once by the library (``storekit config`` shows each value and where it came from).
Library errors become one line on stderr (what, why, what to do) and a meaningful exit
code; a traceback only with ``--debug``.

Exit codes: 0 success; 1 operation failed; 2 usage error (or, with
``--detailed-exitcode``, changes present); 3 store not found; 4 store busy; 5 stale
plan; 6 cluster or tool unavailable; 7 invalid input; 8 refused by a mandatory policy
or the two-person rule. With ``--detailed-exitcode``
every error exits 1, as Terraform's does.
"""

from __future__ import annotations

import os
import sys

import click

from storekit import __version__
from storekit.errors import StorekitError
from storekit.redact import redact_url
from storekit.settings import SETTINGS, Settings

from .context import AppContext

# Settings that get a global option (the rest: environment only, see `storekit config`).
GLOBAL_OPTIONS = ("kubeconfig", "context", "state_url", "db_url", "parallel")


def _plugged() -> dict:
    """Commands other packages add through the ``storekit.commands`` entry points (the web
    app adds ``serve``), by name; loaded only when used."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group="storekit.commands")}


# Which module holds each command: a command's module (and what it imports) loads only when
# that command runs, so `storekit --version` or `storekit plan` pay for nothing else.
# tests/test_cli_input.py checks this table against each module's COMMANDS.
COMMAND_MODULES = {
    "plan": "store_cmds", "apply": "store_cmds", "destroy": "store_cmds", "drift": "drift_cmds",
    "list": "info_cmds", "show": "info_cmds", "outputs": "info_cmds", "audit": "info_cmds",
    "health": "ops_cmds", "logs": "ops_cmds", "restart": "ops_cmds", "reset-password": "ops_cmds",
    "unlock": "ops_cmds", "render": "manifest_cmds", "worker": "serve_cmds", "token": "token_cmds",
    "approve": "approval_cmds", "approvals": "approval_cmds", "rollout": "rollout_cmds",
    "backup": "backup_cmds", "backups": "backup_cmds", "restore": "backup_cmds",
    "clone": "backup_cmds",
}


class StorekitGroup(click.Group):
    """Turns library errors into one clear line and the error's exit code; loads each
    command's module when it is used; finds the commands other packages plug in."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES) | set(_plugged()))

    def get_command(self, ctx: click.Context, name: str):
        if name not in self.commands and name in COMMAND_MODULES:
            import importlib

            for command in importlib.import_module(f".{COMMAND_MODULES[name]}", __package__).COMMANDS:
                self.add_command(command)
        command = super().get_command(ctx, name)
        if command is None and name in (plugged := _plugged()):
            command = plugged[name].load()
        return command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StorekitError as e:
            app = ctx.find_object(AppContext)
            if app is not None and app.debug:
                raise
            click.echo(click.style("Error: ", fg="red", bold=True) + str(e)
                       if app is None or app.color else f"Error: {e}", err=True)
            detailed = ctx.meta.get("storekit.detailed_exitcode", False)
            ctx.exit(1 if detailed else e.exit_code)


def _global_option(name: str):
    setting = next(s for s in SETTINGS if s.name == name)
    return click.option(f"--{name.replace('_', '-')}", name, type=setting.type if setting.type is int else str,
                        default=None, metavar=name.upper() if name != "parallel" else "N",
                        help=f"{setting.help} [env: {setting.env}]")


def global_options(f):
    for name in reversed(GLOBAL_OPTIONS):
        f = _global_option(name)(f)
    return f


@click.group(cls=StorekitGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                    "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="storekit")
@global_options
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or not on a terminal).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx, no_color, debug, **overrides):
    """storekit: isolated WooCommerce stores on Kubernetes, each one a Pulumi stack.

    Create, change and delete stores the way Terraform does: plan, review, apply.

    \b
    Examples:
      storekit plan my-shop --email owner@example.com --out plan.json
      storekit apply plan.json
      storekit plan -f stores.yaml --prune
      storekit list
    """
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    ctx.obj = AppContext(overrides={k: v for k, v in overrides.items() if v is not None},
                         color=color, debug=debug)
    ctx.color = color


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--reveal", is_flag=True, help="Show secret settings (the passphrase) too.")
@click.pass_obj
def config_cmd(app: AppContext, as_json, reveal):
    """Show the effective settings and where each came from.

    \b
    Example:
      STOREKIT_PARALLEL=5 storekit config
    """
    from . import render

    rows = Settings.load(app.overrides).describe(reveal=reveal)
    if as_json:
        click.echo(render.to_json(rows))
    else:
        click.echo(render.table(rows, ["name", "value", "source", "env"]))


@cli.command("doctor")
@click.pass_obj
def doctor_cmd(app: AppContext):
    """Check that the engine, its plugin and the cluster are ready.

    \b
    Example:
      storekit doctor
    """
    from storekit.toolchain import check_cluster, check_tools

    pulumi = check_tools(app.settings)
    click.echo(f"pulumi:  {pulumi}")
    click.echo(f"cluster: {check_cluster(app.settings)}")
    click.echo(f"state:   {redact_url(app.settings.state_url)}")
    from storekit.backups.podexec import kubectl
    from storekit.errors import ToolMissing

    try:
        click.echo(f"kubectl: {kubectl(app.settings)[0]}")
    except ToolMissing:
        click.echo("kubectl: missing (backups, restores, clones and safe upgrades need it)")
    click.echo(f"backups: {redact_url(app.settings.backup_location)}")
    click.echo("ok")


def main() -> None:
    cli(prog_name="storekit")
