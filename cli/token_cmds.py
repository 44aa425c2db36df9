"""token: access tokens for the API and the dashboard (create, list, rotate, revoke).

The logic is the library's (``storekit.tokens``), shared with the API's /api/tokens; a
token's value is printed once, when it is made or rotated, and never again.
"""

from __future__ import annotations

import click

from storekit.vocabulary import TOKEN_ROLES

from . import render
from .context import AppContext

EXPIRES_HELP = "Expire after this long: 90m, 12h, 30d (default: never)."


@click.group("token")
def token_group():
    """Access tokens for the API and the dashboard.

    A token is shown once. Revoking or rotating one ends every dashboard login made with
    it at once; an expired token stops working by itself.

    \b
    Examples:
      storekit token create ci-bot --role viewer --expires-in 30d
      storekit token list
      storekit token rotate ci-bot
      storekit token revoke ci-bot
    """


@token_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(TOKEN_ROLES), default="viewer", show_default=True)
@click.option("--expires-in", metavar="DURATION", help=EXPIRES_HELP)
@click.pass_obj
def token_create(app: AppContext, name, role, expires_in):
    """Make a token and print it once.

    \b
    Example:
      storekit token create ci-bot --role viewer --expires-in 30d
    """
    from storekit.tokens import create_token, parse_duration

    click.echo(create_token(app.kit.catalog, name, role, expires_in=parse_duration(expires_in),
                            actor=app.kit.actor))


@token_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def token_list(app: AppContext, as_json):
    """Every token: name, role, state (active, expired, revoked), when made, last used, expiry.

    \b
    Example:
      storekit token list --json
    """
    from storekit.tokens import list_tokens

    rows = list_tokens(app.kit.catalog)
    if as_json:
        click.echo(render.to_json(rows))
    else:
        click.echo(render.table(rows, ["name", "role", "state", "created_at", "last_used_at", "expires_at"]))


@token_group.command("rotate")
@click.argument("name")
@click.option("--expires-in", metavar="DURATION", help="A new expiry: 90m, 12h, 30d (default: keep it).")
@click.pass_obj
def token_rotate(app: AppContext, name, expires_in):
    """Give a token a new value and print it once; the old value and its logins stop working.

    \b
    Example:
      storekit token rotate ci-bot
    """
    from storekit.tokens import parse_duration, rotate_token

    click.echo(rotate_token(app.kit.catalog, name, expires_in=parse_duration(expires_in), actor=app.kit.actor))


@token_group.command("revoke")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def token_revoke(app: AppContext, name, as_json):
    """Revoke a token for good; its dashboard logins end at once.

    \b
    Example:
      storekit token revoke ci-bot
    """
    from storekit.tokens import revoke_token

    result = revoke_token(app.kit.catalog, name, actor=app.kit.actor)
    if as_json:
        click.echo(render.to_json(result))
    else:
        click.echo(f"Revoked token '{result['name']}' ({result['sessions_ended']} dashboard logins ended).")


COMMANDS = [token_group]
