"""The ``storekit`` command group and its entry point.

Library errors become one clear line on stderr and the error's exit code; tracebacks
only with ``--debug``.
"""

from __future__ import annotations

import click

from storekit import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "STOREKIT"})
@click.version_option(__version__, "--version", prog_name="storekit")
def cli():
    """storekit: isolated WooCommerce stores on Kubernetes, each one a Pulumi stack.

    \b
    Create, change and delete stores the way Terraform does: plan, review, apply.
      storekit plan my-shop --email owner@example.com --out plan.json
      storekit apply plan.json
    """


def main() -> None:
    cli(prog_name="storekit")
