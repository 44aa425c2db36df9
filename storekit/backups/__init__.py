"""Store backups, restores and clones (docs/backups.md): parts dumped in the store's own pods,
a manifest with checksums, a local directory or S3-compatible location."""

__all__ = ["BackupInfo", "CloneResult", "PartInfo", "RestoreResult"]


def __getattr__(name: str):
    """The result types, from ``core`` when first used: the kit imports this package for its
    backup operations, and a command that takes no backup should not load them."""
    if name in __all__:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
