"""What long-running storekit processes (the server, workers) share: their log lines.

Text by default; with ``--log-format json`` (``STOREKIT_LOG_FORMAT=json``) one JSON object
per line, for a log collector: time, level, logger, message, and the job and store the line
is about (``log_context``: set by the worker for everything a job logs, even deep in the
library), null outside a job.
"""

from __future__ import annotations

import contextvars
import json
import logging
from contextlib import contextmanager
from datetime import datetime, timezone

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_LEVEL_HELP = "Log lines (jobs run, failed, recovered) on stderr from this level up."
LOG_FORMATS = ("text", "json")
LOG_FORMAT_HELP = "text, or json: one object per line with the job id and store of each line."

_context: contextvars.ContextVar[dict] = contextvars.ContextVar("storekit_log_context", default={})


@contextmanager
def log_context(**fields):
    """Every log line inside the block carries these fields (``job``, ``store``)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _context.get()
        doc = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
               "job": fields.get("job"), "store": fields.get("store"),
               **{k: v for k, v in fields.items() if k not in ("job", "store")}}
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
