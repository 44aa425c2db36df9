"""`storekit serve`: the dashboard and REST API on waitress, with a pool of job workers.

The web app's own command, plugged into the CLI through the ``storekit.commands`` entry
points (setup.cfg), so the CLI never imports the web app and the web app never imports
the CLI: the command reads the CLI's context object only for its ``kit``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click

from storekit.runtime import LOG_FORMAT_HELP, LOG_FORMATS, LOG_LEVEL_HELP, LOG_LEVELS, configure_logging


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="STOREKIT_WEB_HOST")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, envvar="STOREKIT_WEB_PORT")
@click.option("--workers", type=click.IntRange(0, 64), default=3, show_default=True,
              help="Provisioning jobs run at once inside the server (0: only separate `storekit worker`s).")
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True,
              envvar="STOREKIT_WEB_THREADS", help="HTTP requests served at once.")
@click.option("--dev", is_flag=True,
              help="Werkzeug's development server instead of waitress (local debugging only).")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True,
              envvar="STOREKIT_LOG_LEVEL", help=LOG_LEVEL_HELP)
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
              envvar="STOREKIT_LOG_FORMAT", help=LOG_FORMAT_HELP)
@click.option("--admin-token-file", type=click.Path(dir_okay=False, exists=True), metavar="PATH",
              envvar="STOREKIT_ADMIN_TOKEN_FILE", show_envvar=True,
              help="Read the admin token from this file (e.g. a mounted Secret) instead of printing a "
                   "generated one. STOREKIT_ADMIN_TOKEN works too; a token is never taken from the "
                   "command line, where the process list would show it.")
@click.pass_obj
def serve_cmd(app, host, port, workers, threads, dev, log_level, log_format, admin_token_file):
    """Serve the dashboard and REST API, with a pool of job workers.

    Runs on waitress, a production WSGI server. On first start, an admin token is made and
    printed once: log in with it (or hand one in with --admin-token-file or
    STOREKIT_ADMIN_TOKEN). SIGTERM stops taking requests and lets running jobs end for up
    to 20 s; a job cut short is resumed by the next server or worker. Request bodies over
    64 KiB are refused.

    \b
    Example:
      storekit serve --port 8080 --workers 3
    """
    from storekit.recorder import Actor
    from storekit.tokens import ensure_admin_token

    from . import create_app

    configure_logging(log_level, log_format)
    kit = app.kit.as_actor(Actor(name="dashboard", source="web"))
    token = ensure_admin_token(kit.catalog, _given_admin_token(admin_token_file))
    flask_app = create_app({"SETTINGS": kit.settings, "KIT": kit, "START_WORKERS": workers > 0,
                            "WORKERS": workers})
    click.echo(f"storekit dashboard: http://{host}:{port}/  (API: http://{host}:{port}/api/openapi.json)")
    if token:
        click.echo(f"Admin token (shown once, keep it safe): {token}")
    if dev:
        from werkzeug.serving import run_simple

        run_simple(host, port, flask_app, threaded=True, use_reloader=False)
        return
    from waitress import create_server

    server = create_server(flask_app, host=host, port=port, threads=threads, ident="storekit",
                           max_request_body_size=flask_app.config["MAX_CONTENT_LENGTH"],
                           max_request_header_size=32 * 1024)

    def terminate(*_):
        raise KeyboardInterrupt  # leaves server.run() in the main thread, as Ctrl-C does
    signal.signal(signal.SIGTERM, terminate)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        schedule = flask_app.extensions.get("storekit.schedule")
        if schedule is not None:
            schedule.stop(timeout=5)
        pool = flask_app.extensions.get("storekit.workers")
        if pool is not None:
            pool.stop(timeout=20)


def _given_admin_token(path: str | None) -> str | None:
    """The admin token handed in: the file's first line, else STOREKIT_ADMIN_TOKEN."""
    if path:
        lines = Path(path).read_text().splitlines()
        return lines[0] if lines else ""
    return os.environ.get("STOREKIT_ADMIN_TOKEN") or None
