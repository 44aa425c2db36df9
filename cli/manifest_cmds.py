"""render: a store's Kubernetes objects as YAML, to review or to hand to other tools."""

from __future__ import annotations

import click

from . import render
from .context import AppContext


@click.command("render")
@click.argument("name")
@click.option("--reveal", is_flag=True, help="Show secret values (passwords, salts) instead of (sensitive).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of objects instead of YAML.")
@click.pass_obj
def render_cmd(app: AppContext, name, reveal, as_json):
    """Print the store's Kubernetes objects as YAML, as storekit last applied them.

    The objects come from the store's recorded state, in dependency order (the
    namespace first), so `kubectl apply -f` accepts the output. Secret values are
    replaced by (sensitive) unless --reveal.

    \b
    Examples:
      storekit render "My Shop" > my-shop.yaml
      storekit render "My Shop" --reveal | kubectl diff --server-side -f -
    """
    from storekit.manifests import to_yaml

    objects = app.kit.manifests(name, reveal=reveal)
    click.echo(render.to_json(objects) if as_json else to_yaml(objects), nl=as_json)


COMMANDS = [render_cmd]
