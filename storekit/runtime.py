"""What long-running storekit processes (the server, workers) share: their log lines."""

from __future__ import annotations

import logging

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_LEVEL_HELP = "Log lines (jobs run, failed, recovered) on stderr from this level up."


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
