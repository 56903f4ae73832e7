"""Insert a row unless its unique key exists, atomically, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.store.models import Base

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def insert_if_absent(session: Session, model: type[Base], **values: object) -> bool:
    """Insert ``values`` into ``model``'s table; False when a unique key already held.

    Concurrent requests may add the same account or photo at once; ON CONFLICT DO
    NOTHING lets the second one go on instead of failing its whole transaction.
    """
    insert = _INSERTS[session.get_bind().dialect.name]
    key = model.__table__.primary_key.columns.values()[0]
    statement = insert(model).values(**values).on_conflict_do_nothing().returning(key)
    # RETURNING, not rowcount: psycopg reports no rowcount for INSERT ... ON CONFLICT.
    return session.execute(statement).first() is not None
