"""Data migrations: rows stored under an older revision read right after upgrade."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, text

from app.pipeline.ingest import ListingSubmission
from app.pipeline.scoring import ReceivedPhoto
from app.store.database import Database
from app.store.migrate import upgrade
from app.store.models import Listing

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


def test_migration_0002_old_content_key_becomes_per_account_key(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'satwa.db'}")
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
    database.dispose()
    assert stored_key == submission.content_key != old_key
