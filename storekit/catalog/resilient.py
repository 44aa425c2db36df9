"""A PostgreSQL catalog that rides out a server restart.

A job runs for minutes and writes the catalog all along (timeline lines, heartbeats, the
audit entry at the end). When PostgreSQL restarts under it (a failover, an upgrade, a
crash), every pooled connection is dead, and Peewee would raise on each write from then
on: the timeline would stop, the audit entry would be lost, the job would look dead.

``ResilientPostgres`` drops a connection the server closed and tries the statement again
on a new one, with back-off, for up to ``RETRY_SECONDS``. Only statements outside a
transaction are retried one by one; a transaction is retried whole by ``retrying``
(the catalog wraps its multi-statement writes in it). Any other database error is raised
at once: only a lost connection is waited out.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from peewee import InterfaceError, OperationalError, PostgresqlDatabase

from ..errors import StorageFull, no_space

T = TypeVar("T")

RETRY_SECONDS = 60.0

# What psycopg2 says when the server went away, restarts, or is not back yet.
_LOST = ("server closed the connection", "connection already closed", "terminating connection",
         "could not connect", "connection refused", "the database system is starting up",
         "the database system is shutting down", "connection is closed", "no connection to the server",
         "ssl connection has been closed", "connection to server", "the database system is in recovery mode")


def lost_connection(error: BaseException) -> bool:
    return isinstance(error, (OperationalError, InterfaceError)) and any(s in str(error).lower() for s in _LOST)


class ResilientPostgres(PostgresqlDatabase):
    """PostgreSQL that reconnects and retries a statement when the server went away."""

    retry_seconds = RETRY_SECONDS

    def drop_connection(self) -> None:
        """Forget this thread's connection (the server closed it), without a transaction."""
        try:
            self.close()
        except Exception:  # closing a dead connection may fail too: forget it anyway
            self.dispose()

    def execute_sql(self, sql, params=None):
        try:
            return self.waiting_out(lambda: super(ResilientPostgres, self).execute_sql(sql, params),
                                    inside_transaction_ok=False)
        except (OperationalError, InterfaceError) as e:
            if no_space(e):  # the server's disk: "could not extend file ...: No space left on device"
                raise StorageFull("the catalog database") from e
            raise

    def waiting_out(self, call: Callable[[], T], *, inside_transaction_ok: bool) -> T:
        """``call()``, again on a new connection while the server is away (up to
        ``retry_seconds``). Inside a transaction only the caller retrying the whole
        transaction (``inside_transaction_ok``) may do so."""
        deadline, delay = None, 0.2
        while True:
            try:
                return call()
            except (OperationalError, InterfaceError) as e:
                if not lost_connection(e) or (self.in_transaction() and not inside_transaction_ok):
                    raise
                deadline = deadline or time.monotonic() + self.retry_seconds
                if time.monotonic() >= deadline:
                    raise
                if not self.in_transaction():
                    self.drop_connection()
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def retrying(db, transaction: Callable[[], T]) -> T:
    """Run ``transaction`` (which opens its own ``db.atomic()``), whole again when the
    connection was lost in the middle; as is on other databases."""
    if not isinstance(db, ResilientPostgres) or db.in_transaction():
        return transaction()
    return db.waiting_out(transaction, inside_transaction_ok=True)
