"""worker: running job workers (`serve` is the web app's own command, storekit.webapp.commands,
plugged in through the ``storekit.commands`` entry points; `token` is in token_cmds)."""

from __future__ import annotations

import signal
import threading

import click

from storekit.runtime import LOG_FORMAT_HELP, LOG_FORMATS, LOG_LEVEL_HELP, LOG_LEVELS, configure_logging

from .context import AppContext

def log_level_option(f):
    f = click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
                     envvar="STOREKIT_LOG_FORMAT", help=LOG_FORMAT_HELP)(f)
    return click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True,
                        envvar="STOREKIT_LOG_LEVEL", help=LOG_LEVEL_HELP)(f)


@click.command("worker")
@click.option("--size", type=click.IntRange(1, 64), default=3, show_default=True, help="Jobs run at once.")
@log_level_option
@click.pass_obj
def worker_cmd(app: AppContext, size, log_level, log_format):
    """Run provisioning jobs from the catalog (alongside or instead of `serve`'s pool), the
    scheduled drift checks (STOREKIT_DRIFT_INTERVAL) and the reaper of expired stores.

    \b
    Example:
      STOREKIT_DB_URL=postgresql://... storekit worker --size 5
    """
    from storekit.jobs import WorkerPool
    from storekit.recorder import Actor

    configure_logging(log_level, log_format)
    from storekit.schedule import Scheduler

    kit = app.kit.as_actor(Actor(name="storekit-worker", source="worker"))
    pool = WorkerPool(kit, size=size).start()
    schedule = Scheduler(kit).start()  # scheduled drift checks, the reaper of expired stores
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"worker pool of {size} running jobs; Ctrl-C to stop", err=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    schedule.stop(timeout=5)
    pool.stop(timeout=5)


COMMANDS = [worker_cmd]
