"""Data migrations: rows stored under an older revision read right after upgrade."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from app.pipeline.ingest import ListingSubmission
from app.pipeline.scoring import ReceivedPhoto
from app.store.database import Database
from app.store.migrate import upgrade
from app.store.models import Listing
from tests.conftest import POSTGRES_URL

_ACCOUNT = text(
    "INSERT INTO accounts (id, platform, handle, first_seen_at) "
    "VALUES (1, 'facebook', 'seller.one', '2026-12-01 00:00:00+00:00')"
)
_LISTING = text(
    "INSERT INTO listings (id, content_key, account_id, listing_url, submitted_at, "
    "risk) VALUES ('l1', :key, 1, :url, '2026-12-01 00:00:00+00:00', '{}')"
)
_SIGHTING = text(
    "INSERT INTO sightings (listing_id, position, filename, sha256, status, "
    "submitted_at) VALUES ('l1', :position, 'p.jpg', :sha256, 'scored', "
    "'2026-12-01 00:00:00+00:00')"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path) -> Iterator[Database]:
    """A database with no tables yet: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'satwa.db'}")
        yield database
        database.dispose()
        return
    schema = f"satwa_migration_{uuid.uuid4().hex[:12]}"
    admin = Database(POSTGRES_URL)
    with admin.engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        yield database
    finally:
        database.dispose()
        with admin.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_migration_0002_old_content_key_becomes_per_account_key(empty_database):
    database = empty_database
    upgrade(database, "0001")
    url, photos = "https://shop.example/1", ["a" * 64, "b" * 64]
    old_key = hashlib.sha256("\n".join([url, *photos]).encode()).hexdigest()
    with database.engine.begin() as connection:
        connection.execute(_ACCOUNT)
        connection.execute(_LISTING, {"key": old_key, "url": url})
        for position, sha256 in enumerate(photos):
            connection.execute(_SIGHTING, {"position": position, "sha256": sha256})

    upgrade(database)

    submission = ListingSubmission(
        platform="facebook",
        account="seller.one",
        listing_url=url,
        photos=[ReceivedPhoto("p.jpg", sha256, 1, None) for sha256 in photos],
    )
    with database.session() as session:
        stored_key = session.scalar(select(Listing.content_key))
    assert stored_key == submission.content_key != old_key
