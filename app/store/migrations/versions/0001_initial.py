"""Accounts, listings, photos, sightings, detections, hashes

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("handle", sa.String(length=255), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "handle"),
    )
    op.create_table(
        "photos",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        sa.Column("phash", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "detections",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("photo_sha256", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("x1", sa.Float(), nullable=False),
        sa.Column("y1", sa.Float(), nullable=False),
        sa.Column("x2", sa.Float(), nullable=False),
        sa.Column("y2", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["photo_sha256"],
            ["photos.sha256"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("detections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_detections_photo_sha256"), ["photo_sha256"], unique=False
        )

    op.create_table(
        "listings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("content_key", sa.String(length=64), nullable=False),
        sa.Column(
            "account_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("listing_url", sa.Text(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("price", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("risk", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("content_key"),
    )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listings_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_listings_submitted_at"), ["submitted_at"], unique=False
        )

    op.create_table(
        "photo_hashes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("photo_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mirrored", sa.Boolean(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("hash_size", sa.Integer(), nullable=False),
        sa.Column("library", sa.String(length=128), nullable=False),
        sa.Column("box", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["photo_sha256"],
            ["photos.sha256"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("photo_hashes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_photo_hashes_photo_sha256"), ["photo_sha256"], unique=False
        )

    op.create_table(
        "photo_matches",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("photo_sha256", sa.String(length=64), nullable=False),
        sa.Column("earlier_sha256", sa.String(length=64), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("query_kind", sa.String(length=16), nullable=False),
        sa.Column("matched_kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["earlier_sha256"],
            ["photos.sha256"],
        ),
        sa.ForeignKeyConstraint(
            ["photo_sha256"],
            ["photos.sha256"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("photo_matches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_photo_matches_earlier_sha256"),
            ["earlier_sha256"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_photo_matches_photo_sha256"), ["photo_sha256"], unique=False
        )

    op.create_table(
        "sightings",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("listing_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("listing_id", "position"),
    )
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sightings_listing_id"), ["listing_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sightings_sha256"), ["sha256"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sightings_sha256"))
        batch_op.drop_index(batch_op.f("ix_sightings_listing_id"))

    op.drop_table("sightings")
    with op.batch_alter_table("photo_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_photo_matches_photo_sha256"))
        batch_op.drop_index(batch_op.f("ix_photo_matches_earlier_sha256"))

    op.drop_table("photo_matches")
    with op.batch_alter_table("photo_hashes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_photo_hashes_photo_sha256"))

    op.drop_table("photo_hashes")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listings_submitted_at"))
        batch_op.drop_index(batch_op.f("ix_listings_account_id"))

    op.drop_table("listings")
    with op.batch_alter_table("detections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detections_photo_sha256"))

    op.drop_table("detections")
    op.drop_table("photos")
    op.drop_table("accounts")
