"""Listing content keys include the platform and the account

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_LISTINGS = sa.text(
    "SELECT listings.id, accounts.platform, accounts.handle, listings.listing_url "
    "FROM listings JOIN accounts ON accounts.id = listings.account_id"
)
_PHOTOS = sa.text(
    "SELECT listing_id, sha256 FROM sightings ORDER BY listing_id, position"
)
_UPDATE = sa.text("UPDATE listings SET content_key = :key WHERE id = :listing_id")


def upgrade() -> None:
    # The same rule as ListingSubmission.content_key, copied so that this migration
    # keeps meaning what it meant when it was written.
    connection = op.get_bind()
    photos: dict[str, list[str]] = {}
    for listing_id, sha256 in connection.execute(_PHOTOS):
        photos.setdefault(listing_id, []).append(sha256)
    for listing_id, platform, handle, url in connection.execute(_LISTINGS).all():
        parts = [platform, handle, url, *photos.get(listing_id, [])]
        key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
        connection.execute(_UPDATE, {"key": key, "listing_id": listing_id})


def downgrade() -> None:
    connection = op.get_bind()
    photos: dict[str, list[str]] = {}
    for listing_id, sha256 in connection.execute(_PHOTOS):
        photos.setdefault(listing_id, []).append(sha256)
    for listing_id, _platform, _handle, url in connection.execute(_LISTINGS).all():
        # Limitation: two accounts' listings with the same URL and photos share one
        # old-style key; downgrading a database that holds both fails on the unique
        # content_key constraint.
        parts = [url, *photos.get(listing_id, [])]
        key = hashlib.sha256("\n".join(parts).encode()).hexdigest()
        connection.execute(_UPDATE, {"key": key, "listing_id": listing_id})
