"""backup, backups, restore: a store's database and uploads saved, listed and loaded back
(docs/backups.md)."""

from __future__ import annotations

import click

from . import render
from .context import AppContext, confirm

LOCATION_HELP = ("A directory or s3://bucket/prefix (default: STOREKIT_BACKUP_LOCATION, i.e. "
                 "$STOREKIT_HOME/backups; S3 credentials come from the STOREKIT_S3_* settings).")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@click.command("backup")
@click.argument("name")
@click.option("--to", "location", metavar="LOCATION", help=LOCATION_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the backup's manifest and checks as JSON.")
@click.pass_obj
def backup_cmd(app: AppContext, name, location, as_json):
    """Back up a store: its database dump and uploads archive, with a manifest of sizes and
    SHA-256 checksums, read back once written (verified).

    \b
    Examples:
      storekit backup "My Shop"
      storekit backup "My Shop" --to s3://backups/storekit --json
    """
    click.echo(f"Backing up store '{name}' ...", err=True)
    info = app.service.backup(name, app.kit.actor, location=location, now=True)
    if as_json:
        click.echo(render.to_json(info.to_dict()))
        return
    state = "verified" if info.verified else f"NOT verified: {info.problem}"
    click.echo(f"Backup {info.id} of store '{info.store}': {_size(info.size)} in {info.location} "
               f"({info.seconds:.1f} s, {state})")


@click.command("backups")
@click.argument("name", required=False)
@click.option("--from", "location", metavar="LOCATION", help=LOCATION_HELP)
@click.option("--no-verify", is_flag=True, help="Do not read every part back (faster; VERIFIED shows '-').")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def backups_cmd(app: AppContext, name, location, no_verify, as_json):
    """List backups (of one store, or of every store), newest first, with size, age and
    whether each is verified: every part read back and its checksum matching the manifest.

    \b
    Examples:
      storekit backups "My Shop"
      storekit backups --from s3://backups/storekit --json
    """
    found = app.kit.backups(name, location=location, verify=not no_verify)
    if as_json:
        click.echo(render.to_json({"backups": [b.to_dict() for b in found]}))
        return
    if not found:
        click.echo("No backups.")
        return
    rows = [{"id": b.id, "store": b.store, "engine": b.engine, "size": _size(b.size), "age": _age(b.age_seconds),
             "verified": "-" if b.verified is None else ("yes" if b.verified else f"NO ({b.problem})")}
            for b in found]
    click.echo(render.table(rows, ["id", "store", "engine", "size", "age", "verified"]))


@click.command("restore")
@click.argument("name")
@click.option("--backup", "backup_id", required=True, metavar="ID", help="The backup's id (`storekit backups NAME`).")
@click.option("--from", "location", metavar="LOCATION", help=LOCATION_HELP)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def restore_cmd(app: AppContext, name, backup_id, location, auto_approve, as_json):
    """Restore a backup into its store: check every checksum first (a corrupt backup changes
    nothing), stop the writers (maintenance mode), load the database and uploads, set the
    store's own URL and admin password again, start, and check the home page answers.

    \b
    Example:
      storekit restore "My Shop" --backup 20261202T013000Z-3f9a
    """
    click.echo(f"This replaces the database and uploads of store '{name}' with backup {backup_id}; "
               "the store is in maintenance meanwhile.", err=True)
    confirm(app, auto_approve)
    result = app.service.restore(name, backup_id, app.kit.actor, location=location, now=True)
    if as_json:
        click.echo(render.to_json(result.to_dict()))
        return
    click.echo(f"Restored backup {result.backup_id} into store '{result.store}' in {result.seconds:.1f} s "
               f"({result.downtime_seconds:.1f} s in maintenance); healthy.")


@click.command("clone")
@click.argument("source")
@click.argument("name")
@click.option("--from-backup", "backup_id", metavar="ID", help="Clone this backup of SOURCE (default: back it up now).")
@click.option("--from", "location", metavar="LOCATION", help=LOCATION_HELP)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def clone_cmd(app: AppContext, source, name, backup_id, location, auto_approve, as_json):
    """Make a new store NAME from a backup of SOURCE: the same engine, tier and images, its own
    secrets, admin password and URL (a Medusa store: its own publishable key too), SOURCE's
    database and uploads, and SOURCE's URL rewritten to its own in the stored content (a staging
    copy). A named backup is checked (there, whole, of SOURCE's engine) before NAME is made.

    \b
    Examples:
      storekit clone "My Shop" "My Shop Staging"
      storekit clone "My Shop" "My Shop Staging" --from-backup 20261202T013000Z-3f9a
    """
    click.echo(f"This creates store '{name}' from " + (f"backup {backup_id}" if backup_id else "a new backup")
               + f" of store '{source}'.", err=True)
    confirm(app, auto_approve)
    result = app.service.clone(source, name, app.kit.actor, backup=backup_id, location=location, now=True)
    if as_json:
        click.echo(render.to_json(result.to_dict()))
        return
    click.echo(f"Store '{result.store}' cloned from '{result.source}' (backup {result.backup_id}) in "
               f"{result.seconds:.1f} s: {result.url}")


COMMANDS = [backup_cmd, backups_cmd, restore_cmd, clone_cmd]
