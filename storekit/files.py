"""Writing files safely, in one place: secrets readable by their owner only, documents
replaced whole (never seen half written)."""

from __future__ import annotations

import os
from pathlib import Path


def secret_file(path: Path, make) -> str:
    """The secret kept in ``path``; made with ``make()`` on first use, created 0600 at once
    (never readable by others, not even for an instant) and never overwritten."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(make())
    return path.read_text().strip()


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then move it into place."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
