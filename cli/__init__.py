"""storekit's command line: Click commands over the library, and the plan renderers.

Installed as ``storekit.cli``; the console script is ``storekit = storekit.cli.main:main``.
"""
