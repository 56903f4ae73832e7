"""The database layer: SQLite from many threads, write transactions, migrations."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from app.store.database import Database
from app.store.migrate import upgrade
from app.store.models import Account, Base
from app.store.upsert import insert_if_absent


def test_database_many_threads_write_and_read_without_errors(clean_database_url):
    database = Database(clean_database_url)

    def add_account(number: int) -> int:
        with database.writing() as session:
            insert_if_absent(
                session,
                Account,
                platform="tokopedia",
                handle=f"seller{number % 10}",
                first_seen_at=datetime.now(UTC),
            )
        with database.session() as session:
            return session.scalar(select(func.count()).select_from(Account))

    with ThreadPoolExecutor(16) as pool:
        counts = list(pool.map(add_account, range(64)))
    assert max(counts) == 10
    database.dispose()


def test_database_insert_if_absent_reports_whether_it_inserted(clean_database_url):
    database = Database(clean_database_url)
    now = datetime.now(UTC)
    with database.writing() as session:
        first = insert_if_absent(
            session, Account, platform="x", handle="h", first_seen_at=now
        )
        second = insert_if_absent(
            session, Account, platform="x", handle="h", first_seen_at=now
        )
    assert (first, second) == (True, False)
    database.dispose()


def test_database_upgrade_creates_every_model_table(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(database)
    upgrade(database)
    tables = set(inspect(database.engine).get_table_names())
    assert {table.name for table in Base.metadata.sorted_tables} <= tables
    database.dispose()


def test_database_sqlite_file_uses_wal(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    with database.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
    database.dispose()


def test_database_migrations_match_the_models(clean_database_url):
    database = Database(clean_database_url)
    with database.engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection), Base.metadata
        )
    assert differences == []
    database.dispose()


def test_database_write_transactions_take_turns_across_engines(clean_database_url):
    """What a second server process's write transaction reads (as the matcher does,
    through another connection) includes everything an earlier writer committed."""
    first, second = Database(clean_database_url), Database(clean_database_url)
    seen_by_second: list[int] = []

    def second_writer() -> None:
        with second.writing(), second.session() as reader:
            seen_by_second.append(
                reader.scalar(select(func.count()).select_from(Account))
            )

    with first.writing() as session:
        insert_if_absent(
            session,
            Account,
            platform="facebook",
            handle="early.seller",
            first_seen_at=datetime.now(UTC),
        )
        session.flush()
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(second_writer)
            time.sleep(0.5)  # long enough for the second writer to start and wait
            assert not waiting.done(), "the second writer waits for the first"
            session.commit()
            waiting.result(timeout=30)

    assert seen_by_second == [1]
    first.dispose()
    second.dispose()
