"""serve, worker, token: running the dashboard and its job workers."""

from __future__ import annotations

import signal
import threading

import click

from .main import AppContext, cli


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="STOREKIT_WEB_HOST")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, envvar="STOREKIT_WEB_PORT")
@click.option("--workers", type=click.IntRange(0, 64), default=3, show_default=True,
              help="Provisioning jobs run at once inside the server (0: only separate `storekit worker`s).")
@click.pass_obj
def serve_cmd(app: AppContext, host, port, workers):
    """Serve the dashboard and REST API, with a pool of job workers.

    On first start, an admin token is made and printed once: log in with it.

    \b
    Example:
      storekit serve --port 8080 --workers 3
    """
    from werkzeug.serving import run_simple

    from storekit.webapp import create_app
    from storekit.webapp.auth import ensure_admin_token

    kit = app.kit
    kit.actor = kit.actor.__class__(name="dashboard", source="web")
    token = ensure_admin_token(kit.catalog)
    flask_app = create_app({"SETTINGS": kit.settings, "KIT": kit, "START_WORKERS": workers > 0,
                            "WORKERS": workers})
    click.echo(f"storekit dashboard: http://{host}:{port}/  (API: http://{host}:{port}/api/openapi.json)")
    if token:
        click.echo(f"Admin token (shown once, keep it safe): {token}")
    run_simple(host, port, flask_app, threaded=True, use_reloader=False)


@cli.command("worker")
@click.option("--size", type=click.IntRange(1, 64), default=3, show_default=True, help="Jobs run at once.")
@click.pass_obj
def worker_cmd(app: AppContext, size):
    """Run provisioning jobs from the catalog (alongside or instead of `serve`'s pool).

    \b
    Example:
      STOREKIT_DB_URL=postgresql://... storekit worker --size 5
    """
    from storekit.jobs import WorkerPool
    from storekit.kit import Actor

    app.kit.actor = Actor(name="storekit-worker", source="worker")
    pool = WorkerPool(app.kit, size=size).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"worker pool of {size} running jobs; Ctrl-C to stop", err=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    pool.stop(timeout=5)


@cli.group("token")
def token_group():
    """Access tokens for the API and the dashboard.

    \b
    Example:
      storekit token create ci-bot --role viewer
    """


@token_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "admin"]), default="viewer", show_default=True)
@click.pass_obj
def token_create(app: AppContext, name, role):
    """Make a token and print it once.

    \b
    Example:
      storekit token create ci-bot --role viewer
    """
    from storekit.webapp.auth import create_token

    click.echo(create_token(app.kit.catalog, name, role))
