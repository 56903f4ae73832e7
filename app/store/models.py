"""The database tables: accounts, listings, photos, sightings, detections and hashes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

RowId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY."""


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"Expected a timezone-aware datetime, got {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A seller's account on one platform."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "handle"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(64))
    handle: Mapped[str] = mapped_column(String(255))
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Listing(Base):
    """One submission of a listing: who posted it, where, and when Satwa received it."""

    __tablename__ = "listings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    content_key: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    listing_url: Mapped[str] = mapped_column(Text)
    caption: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    price: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    risk: Mapped[dict] = mapped_column(JSON)


class Photo(Base):
    """A photo's content, once per SHA-256: its size, hash and stored original."""

    __tablename__ = "photos"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(64))
    byte_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    frame_count: Mapped[int] = mapped_column(Integer)
    frame_index: Mapped[int] = mapped_column(Integer)
    phash: Mapped[str] = mapped_column(String(16))
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Sighting(Base):
    """One photo as received in one listing: position, file name, outcome."""

    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("listing_id", "position"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    listing_id: Mapped[str] = mapped_column(ForeignKey("listings.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[dict | None] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Detection(Base):
    """One box the model found in a photo, with the model that found it."""

    __tablename__ = "detections"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    photo_sha256: Mapped[str] = mapped_column(ForeignKey("photos.sha256"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
    stage: Mapped[str] = mapped_column(String(16))
    model_name: Mapped[str] = mapped_column(String(128))
    model_sha256: Mapped[str] = mapped_column(String(64))


class PhotoHash(Base):
    """One perceptual hash of one region of a photo (see app.pipeline.hashing)."""

    __tablename__ = "photo_hashes"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    photo_sha256: Mapped[str] = mapped_column(ForeignKey("photos.sha256"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    mirrored: Mapped[bool] = mapped_column(Boolean)
    value: Mapped[int] = mapped_column(BigInteger)
    algorithm: Mapped[str] = mapped_column(String(32))
    hash_size: Mapped[int] = mapped_column(Integer)
    library: Mapped[str] = mapped_column(String(128))
    box: Mapped[list | None] = mapped_column(JSON)


class PhotoMatchRecord(Base):
    """A photo found to repeat an earlier photo's content when it was first stored."""

    __tablename__ = "photo_matches"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    photo_sha256: Mapped[str] = mapped_column(ForeignKey("photos.sha256"), index=True)
    earlier_sha256: Mapped[str] = mapped_column(ForeignKey("photos.sha256"), index=True)
    distance: Mapped[int] = mapped_column(Integer)
    query_kind: Mapped[str] = mapped_column(String(16))
    matched_kind: Mapped[str] = mapped_column(String(16))
