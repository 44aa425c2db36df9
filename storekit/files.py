"""Writing files safely, in one place: secrets readable by their owner only, documents
replaced whole (never seen half written)."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

from .errors import StorageFull


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
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(make())
            except OSError as e:  # never leave an empty secret behind: the next run makes it again
                path.unlink(missing_ok=True)
                if e.errno == errno.ENOSPC:
                    raise StorageFull("the storekit home folder", str(path)) from e
                raise
    return path.read_text().strip()


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then move it into place. Readers
    see the old file or the new one, whole; concurrent writers each use their own temporary."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)  # the file in place is the previous one, whole
        if e.errno == errno.ENOSPC:
            raise StorageFull("the storekit home folder", str(path)) from e
        raise
    return path
