"""What every command shares: the app context (settings, the kit, the service layer), the
confirmation prompt, and live progress. Command modules import this, never ``main``."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from storekit.settings import Settings

if TYPE_CHECKING:  # the engine's SDK loads only when a command needs it (start-up time)
    from storekit.kit import Storekit
    from storekit.service import StoreService


@dataclass
class AppContext:
    overrides: dict
    color: bool
    debug: bool
    _kit: Storekit | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        return self.kit.settings

    @property
    def kit(self) -> Storekit:
        if self._kit is None:
            from storekit.kit import Storekit
            from storekit.recorder import Actor

            settings = Settings.load(self.overrides)
            self._kit = Storekit(settings, actor=Actor(name=_user(), source="cli"))
        return self._kit

    @property
    def service(self) -> StoreService:
        from storekit.service import StoreService

        return StoreService(self.kit)


def _user() -> str:
    import getpass

    try:
        return os.environ.get("STOREKIT_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"




def confirm(app: AppContext, auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise click.UsageError("refusing to apply without confirmation: there is no terminal to ask on; "
                               "review the plan and pass --auto-approve")
    answer = click.prompt("\nDo you want to apply these changes? Only 'yes' will be accepted",
                          default="", show_default=False)
    if answer != "yes":
        click.echo("Apply cancelled.")
        raise click.exceptions.Exit(1)


class Progress:
    """Live progress lines for events, on stderr; thread-safe (fleets apply in parallel)."""

    def __init__(self, enabled: bool, prefix: bool):
        self.enabled, self.prefix = enabled, prefix
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        if not self.enabled:
            return
        from . import render  # here: the renderers load the library's views (start-up time)

        line = render.event_line(event)
        if line:
            with self.lock:
                click.echo(f"[{event.store}] {line}" if self.prefix else line, err=True)
