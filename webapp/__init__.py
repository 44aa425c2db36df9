"""storekit's dashboard and REST API: a Flask app over the storekit library.

Installed as ``storekit.webapp``.
"""
