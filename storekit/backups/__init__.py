"""Store backups, restores and clones (docs/backups.md): parts dumped in the store's own pods,
a manifest with checksums, a local directory or S3-compatible location."""

from .core import BackupInfo, CloneResult, PartInfo, RestoreResult

__all__ = ["BackupInfo", "CloneResult", "PartInfo", "RestoreResult"]
