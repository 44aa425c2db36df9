"""Staged rollouts: ``apply --waves``, and ``storekit rollout list | show | resume | rollback``."""

from __future__ import annotations

import click

from storekit.rollout import GATES

from . import render
from .context import AppContext, Progress


def rollout_options(f):
    """``apply``'s options for a staged rollout of a fleet (a fleet file's ``rollout:`` section
    gives the same; an option wins over the file)."""
    f = click.option("--gate", type=click.Choice(GATES), default=None,
                     help="Health gate after each wave: ready (pods Ready, volumes Bound) or http (and the "
                          "home page answers; the default).")(f)
    f = click.option("--bake", type=click.FloatRange(0, 3600), default=None, metavar="SECONDS",
                     help="How long each wave's stores have to pass the gate (default 60).")(f)
    f = click.option("--max-unavailable", type=click.IntRange(1), default=None, metavar="N",
                     help="At most N stores change at once (default 1).")(f)
    f = click.option("--waves", default=None, metavar="LIST",
                     help="Roll a fleet out in waves, e.g. 1,10%,50%,100% (cumulative; halts on a failed gate).")(f)
    return f


def rollout_settings(file: str | None, **given) -> dict | None:
    """The rollout's options from the options given and the fleet file's ``rollout:`` section;
    None when neither asks for a rollout."""
    from storekit.fleet import load_rollout

    section = load_rollout(file) if file else {}
    chosen = {**section, **{k: v for k, v in given.items() if v is not None}}
    return chosen if "waves" in chosen else None


def run_rollout(app: AppContext, ctx, fleet, settings: dict, as_json: bool) -> None:
    from storekit.rollout import RolloutOptions, Rollouts

    options = RolloutOptions(**{k: settings[k] for k in settings if k in ("waves", "max_unavailable", "bake", "gate")})
    say = (lambda text: None) if as_json else (lambda text: click.echo(text, err=True))
    record = Rollouts(app.kit, progress=say, on_event=Progress(not as_json, prefix=True)).start(fleet, options)
    report(record, as_json)
    if record.status != "done":
        ctx.exit(1)


def report(record, as_json: bool) -> None:
    if as_json:
        click.echo(render.to_json(record.to_dict()))
        return
    click.echo(f"Rollout {record.id}: {record.status}" + (f" ({record.message})" if record.message else ""))
    for w in record.waves:
        failed = ", ".join(f"{f['store']} ({f['reason']})" for f in w["failed"])
        click.echo(f"  wave {w['number']}: {w['status']:<11} {len(w['stores'])} stores: {', '.join(w['stores'])}"
                   + (f"\n      failed: {failed}" if failed else ""))
    if record.status == "halted":
        click.echo(f"Resume with `storekit rollout resume {record.id}`, or undo the latest wave with "
                   f"`storekit rollout rollback {record.id}`.")


@click.group("rollout")
def rollout_group():
    """Staged rollouts of fleets: list them, show one, resume a halted one, roll waves back.

    \b
    Examples:
      storekit apply -f stores.yaml --waves 1,10%,50%,100% --max-unavailable 2 --auto-approve
      storekit rollout show 3
      storekit rollout resume 3
      storekit rollout rollback 3 --all
    """


@rollout_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_cmd(app: AppContext, as_json):
    """The latest rollouts."""
    rows = [{**r.to_dict(), "waves": f"{sum(w['status'] == 'passed' for w in r.waves)}/{len(r.waves)} passed"}
            for r in app.kit.catalog.rollouts.recent()]
    click.echo(render.to_json(rows) if as_json else render.table(rows, ["id", "status", "waves", "actor", "created_at"]))


def _get(app: AppContext, rollout_id: int):
    from storekit.errors import SpecError

    record = app.kit.catalog.rollouts.get(rollout_id)
    if record is None:
        raise SpecError([("rollout", f"no rollout {rollout_id}")], subject="rollout")
    return record


@rollout_group.command("show")
@click.argument("rollout_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show_cmd(app: AppContext, rollout_id, as_json):
    """A rollout's waves and where it stands."""
    report(_get(app, rollout_id), as_json)


@rollout_group.command("resume")
@click.argument("rollout_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def resume_cmd(ctx, rollout_id, as_json):
    """Resume a halted rollout: its failed stores first, then the waves left."""
    from storekit.rollout import Rollouts

    app: AppContext = ctx.obj
    say = (lambda text: None) if as_json else (lambda text: click.echo(text, err=True))
    record = Rollouts(app.kit, progress=say, on_event=Progress(not as_json, prefix=True)).resume(rollout_id)
    report(record, as_json)
    if record.status != "done":
        ctx.exit(1)


@rollout_group.command("rollback")
@click.argument("rollout_id", type=int)
@click.option("--all", "all_waves", is_flag=True, help="Every applied wave, latest first (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def rollback_cmd(ctx, rollout_id, all_waves, as_json):
    """Undo a halted or finished rollout's latest wave (or all): each store back to its
    previous spec; a store the rollout created is destroyed."""
    from storekit.rollout import Rollouts

    app: AppContext = ctx.obj
    say = (lambda text: None) if as_json else (lambda text: click.echo(text, err=True))
    record = Rollouts(app.kit, progress=say, on_event=Progress(not as_json, prefix=True)).rollback(
        rollout_id, all_waves=all_waves)
    report(record, as_json)


COMMANDS = [rollout_group]
