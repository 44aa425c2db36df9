"""The Medusa engine: registered so that it can be named, not yet available.

Planning a Medusa store raises ``EngineUnavailable``. Making it available means writing
its program here (Medusa server + admin, PostgreSQL, Redis, in the store's namespace)
and setting ``available=True``: nothing else in storekit changes.
"""

from __future__ import annotations

from storekit.engine import Engine

ENGINE = Engine(
    name="medusa",
    description="Medusa (headless commerce) with PostgreSQL and Redis",
    program=None,
    available=False,
    unavailable_reason="its stack program is not written yet; only 'woocommerce' stores can be created",
)
