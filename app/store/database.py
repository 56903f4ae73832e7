"""Engine and sessions: a SQLite file (WAL, busy timeout) or PostgreSQL.

SQLite allows one writer at a time. A transaction that reads first and writes later
cannot wait for the lock (SQLite answers "database is locked" at once to avoid a
deadlock), so write transactions start with ``BEGIN IMMEDIATE`` and take the lock up
front; they then wait up to ``BUSY_TIMEOUT_MS`` for it. Readers never block in WAL mode.

On PostgreSQL, write transactions take one transaction-level advisory lock
(``WRITE_LOCK_KEY``) first, so they run one at a time there too. Ingest relies on it:
a listing's matches are searched inside its write transaction, and with writers in
turn every earlier listing, from any server process, has committed by then, so two
near-duplicates sent at the same moment to two processes still find each other.
Write transactions are short (no inference inside), so taking turns costs little.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 60_000
"""How long a SQLite writer waits for the write lock before failing."""

WRITE_LOCK_KEY = 0x5A7A  # "Satwa"; any constant shared by every process
"""PostgreSQL advisory lock key that write transactions take in turn."""

POOL_SIZE = 8
MAX_OVERFLOW = 32


class Database:
    """One engine with a session factory for reads and one for writes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = build_engine(url)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        self.write_session = sessionmaker(
            self.engine.execution_options(satwa_begin="IMMEDIATE"),
            expire_on_commit=False,
        )
        self._writer = threading.Lock()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction, entered once it holds the write lock (SQLite's, or
        the advisory lock on PostgreSQL); committed on success, rolled back on error.

        The threads of one process queue for their turn on a lock of their own first
        and start the moment the previous writer is done: SQLite's busy handler would
        have them poll the file lock with growing sleeps (up to 100 ms) instead.
        """
        with self._writer, self.write_session() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY}
                )
            else:
                session.connection()  # BEGIN IMMEDIATE now, not at the first statement
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def build_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            url, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, pool_pre_ping=True
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
    )
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_sqlite)
    return engine


def _configure_sqlite(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _begin_sqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a committed listing survives a power cut, not only a killed process.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _begin_sqlite(connection) -> None:
    mode = connection.get_execution_options().get("satwa_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")
