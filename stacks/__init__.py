"""Pulumi programs, one module per store engine; installed as ``storekit.stacks``."""
