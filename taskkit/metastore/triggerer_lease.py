"""The triggerer lease: one triggerer runs a metastore's triggers, any others wait on standby.

Several triggerers over one metastore (one beside each of several schedulers,
or standalone ones on several hosts for availability) would each run every
trigger: harmless, as the first event wins, but every wait would cost N times.
So one holds the lease and runs the triggers; the others poll for it and take
over the moment the holder's process dies, as the server (PostgreSQL advisory
lock on a session of its own) or the kernel (flock on a file beside an SQLite
database) releases it then. Triggers are rows, so the one that takes over
starts every pending wait again: nothing is lost.
"""

from __future__ import annotations

import fcntl
import os
import socket
from typing import IO

from sqlalchemy import Connection, Engine, text

from taskkit.metastore.engine import sqlite_path

#: Arbitrary but fixed: the advisory-lock class taskkit triggerers agree on ("tg").
_PG_LOCK_CLASS = 0x7467
#: Per schema, as the scheduler lease: metastores in different schemas do not collide.
_PG_TRY_LOCK = text("SELECT pg_try_advisory_lock(:cls, hashtext(current_schema()))")
_PG_UNLOCK = text("SELECT pg_advisory_unlock(:cls, hashtext(current_schema()))")


class TriggererLease:
    """Try to take the lease with `try_acquire()`; give it back with `release()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._lock_file: IO[str] | None = None
        self.held = False

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True if this triggerer holds it now."""
        if self.held:
            return True
        if self.engine.url.get_backend_name() == "postgresql":
            connection = self.engine.connect()
            got = bool(connection.execute(_PG_TRY_LOCK, {"cls": _PG_LOCK_CLASS}).scalar())
            connection.commit()  # advisory locks live in the session, outside transactions
            if got:
                self._connection = connection
            else:
                connection.close()
            self.held = got
            return got
        path = sqlite_path(self.engine.url)
        if path is None:  # an in-memory database is private to this process
            self.held = True
            return True
        lock_file: IO[str] = open(f"{path}.triggerer.lock", "a")  # noqa: SIM115, PTH123
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return False
        lock_file.truncate(0)
        lock_file.write(f"taskkit triggerer on {socket.gethostname()}, pid {os.getpid()}\n")
        lock_file.flush()
        self._lock_file = lock_file
        self.held = True
        return True

    def release(self) -> None:
        """Give the lease back (also what the process's death does)."""
        if self._connection is not None:
            try:
                self._connection.execute(_PG_UNLOCK, {"cls": _PG_LOCK_CLASS})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        self.held = False
