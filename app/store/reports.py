"""Read stored listings, photos and accounts back as answers (app.schemas).

A photo's matches are the earlier sightings of the same content: the same bytes
(distance 0) and every photo the matcher recorded as a near-duplicate in either
direction, seen in another listing submitted no later than this one.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.answers import detection_out, error_out, photo_facts
from app.catalog import Catalog
from app.errors import NotFound, shown
from app.schemas import (
    AccountListingOut,
    AccountOut,
    DetectionOut,
    ListingOut,
    MatchOut,
    PhotoOut,
    PhotoReportOut,
    RiskOut,
    SightingOut,
)
from app.store.models import (
    Account,
    Detection,
    Listing,
    Photo,
    PhotoMatchRecord,
    Sighting,
)


def listing_report(session: Session, catalog: Catalog, listing_id: str) -> ListingOut:
    row = session.execute(
        select(Listing, Account)
        .join(Account, Listing.account_id == Account.id)
        .where(Listing.id == listing_id)
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"No listing {shown(listing_id)}; expected an id a POST returned"
        )
    listing, account = row
    # Each sighting with its photo row in one query (a rejected photo has none).
    sightings = session.execute(
        select(Sighting, Photo)
        .outerjoin(Photo, Photo.sha256 == Sighting.sha256)
        .where(Sighting.listing_id == listing_id)
        .order_by(Sighting.position)
    ).all()
    return ListingOut(
        listing_id=listing.id,
        platform=account.platform,
        account=account.handle,
        listing_url=listing.listing_url,
        caption=listing.caption,
        posted_at=listing.posted_at,
        price=listing.price,
        submitted_at=listing.submitted_at,
        risk=RiskOut(**listing.risk),
        photos=[
            _photo_out(session, catalog, sighting, photo)
            for sighting, photo in sightings
        ],
    )


def _photo_out(
    session: Session, catalog: Catalog, sighting: Sighting, photo: Photo | None
) -> PhotoOut:
    if sighting.status != "scored":
        return PhotoOut(
            filename=sighting.filename,
            sha256=sighting.sha256,
            status=sighting.status,
            error=error_out(sighting.error or {}),
        )
    return PhotoOut(
        filename=sighting.filename,
        sha256=sighting.sha256,
        status="scored",
        **photo_facts(photo),
        phash=photo.phash,
        detections=photo_detections(session, catalog, photo.sha256),
        matches=_matches(session, sighting),
    )


def photo_detections(
    session: Session, catalog: Catalog, sha256: str
) -> list[DetectionOut]:
    rows = session.scalars(
        select(Detection)
        .where(Detection.photo_sha256 == sha256)
        .order_by(Detection.position)
    ).all()
    return [
        detection_out(
            catalog,
            label=row.label,
            confidence=row.confidence,
            box=(row.x1, row.y1, row.x2, row.y2),
            stage=row.stage,
            model_name=row.model_name,
            model_sha256=row.model_sha256,
        )
        for row in rows
    ]


def _matches(session: Session, sighting: Sighting) -> list[MatchOut]:
    distances = _related_photos(session, sighting.sha256)
    rows = session.execute(
        select(Sighting, Account)
        .join(Listing, Sighting.listing_id == Listing.id)
        .join(Account, Listing.account_id == Account.id)
        .where(
            Sighting.sha256.in_(distances),
            Sighting.status == "scored",
            Sighting.listing_id != sighting.listing_id,
            Sighting.submitted_at <= sighting.submitted_at,
        )
        .order_by(Sighting.submitted_at, Sighting.id)
    ).all()
    matches = _one_per_listing(
        MatchOut(
            sha256=earlier.sha256,
            distance=distances[earlier.sha256],
            listing_id=earlier.listing_id,
            platform=account.platform,
            account=account.handle,
        )
        for earlier, account in rows
    )
    return sorted(matches, key=lambda match: match.distance)


def _related_photos(session: Session, sha256: str) -> dict[str, int]:
    """This photo (distance 0) and its recorded near-duplicates, either direction."""
    records = session.scalars(
        select(PhotoMatchRecord).where(
            or_(
                PhotoMatchRecord.photo_sha256 == sha256,
                PhotoMatchRecord.earlier_sha256 == sha256,
            )
        )
    ).all()
    distances = {sha256: 0}
    for record in records:
        other = (
            record.earlier_sha256
            if record.photo_sha256 == sha256
            else record.photo_sha256
        )
        distances[other] = min(record.distance, distances.get(other, 64))
    return distances


def _one_per_listing(matches: Iterable[MatchOut]) -> list[MatchOut]:
    best: dict[tuple[str, str], MatchOut] = {}
    for match in matches:
        key = (match.sha256, match.listing_id)
        best.setdefault(key, match)
    return list(best.values())


def photo_report(session: Session, catalog: Catalog, sha256: str) -> PhotoReportOut:
    photo = session.get(Photo, sha256)
    if photo is None:
        raise NotFound(f"No scored photo with SHA-256 {sha256[:80]!r}")
    sightings = _sightings(session, sha256)
    return PhotoReportOut(
        sha256=photo.sha256,
        media_type=photo.media_type,
        byte_size=photo.byte_size,
        width=photo.width,
        height=photo.height,
        phash=photo.phash,
        first_seen_at=photo.first_seen_at,
        detections=photo_detections(session, catalog, sha256),
        sightings=sightings,
        accounts=sorted({f"{s.platform}/{s.account}" for s in sightings}),
    )


def _sightings(session: Session, sha256: str) -> list[SightingOut]:
    rows = session.execute(
        select(Sighting, Listing, Account)
        .join(Listing, Sighting.listing_id == Listing.id)
        .join(Account, Listing.account_id == Account.id)
        .where(Sighting.sha256 == sha256, Sighting.status == "scored")
        .order_by(Sighting.submitted_at, Sighting.id)
    ).all()
    return [
        SightingOut(
            listing_id=listing.id,
            platform=account.platform,
            account=account.handle,
            listing_url=listing.listing_url,
            filename=sighting.filename,
            submitted_at=sighting.submitted_at,
        )
        for sighting, listing, account in rows
    ]


def photo_media_type(session: Session, sha256: str) -> str:
    photo = session.get(Photo, sha256)
    if photo is None:
        raise NotFound(f"No scored photo with SHA-256 {sha256[:80]!r}")
    return photo.media_type


def account_report(session: Session, platform: str, handle: str) -> AccountOut:
    account = session.scalar(
        select(Account).where(Account.platform == platform, Account.handle == handle)
    )
    if account is None:
        raise NotFound(f"No account {shown(handle)} on platform {shown(platform)}")
    listings = session.scalars(
        select(Listing)
        .where(Listing.account_id == account.id)
        .order_by(Listing.submitted_at)
    ).all()
    return AccountOut(
        platform=account.platform,
        account=account.handle,
        first_seen_at=account.first_seen_at,
        listings=[_account_listing(session, listing) for listing in listings],
    )


def _account_listing(session: Session, listing: Listing) -> AccountListingOut:
    photos = session.scalars(
        select(Sighting.sha256)
        .where(Sighting.listing_id == listing.id, Sighting.status == "scored")
        .order_by(Sighting.position)
    ).all()
    return AccountListingOut(
        listing_id=listing.id,
        listing_url=listing.listing_url,
        submitted_at=listing.submitted_at,
        risk=RiskOut(**listing.risk),
        photos=list(photos),
    )
