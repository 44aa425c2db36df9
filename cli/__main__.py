"""``python -m storekit.cli``: the same as the ``storekit`` command."""

from .main import main

main()
