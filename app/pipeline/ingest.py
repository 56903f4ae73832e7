"""Take in one listing: score each photo, keep the originals, record everything.

Order of work, chosen for crash safety and for SQLite's single writer:

1. A listing already stored from the same account with the same URL and the same
   photos is answered from the database; nothing new is stored.
2. A photo already stored (the same SHA-256, a repost of the very bytes) is not scored
   again: its stored findings stand, as they would anyway (a photo's row, detections
   and hashes are written once; re-scoring the archive is a separate batch job).
3. Every other photo is decoded once and scored (detector, hashes) with no database
   session open: inference never holds a connection or a lock.
4. The originals of the scored photos are written to the evidence store (atomic,
   fsynced) *before* the database commit, so a committed row always has its bytes.
5. One short write transaction records account, listing, photos, detections,
   sightings and the photos' hashes and matches; the listing only exists once it
   has committed, and the answer is sent after that.
6. The matcher takes the committed hashes into its in-memory index at its next search.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.pipeline import detect
from app.pipeline.matching import Matcher
from app.pipeline.scoring import (
    PhotoFacts,
    PhotoScorer,
    ReceivedPhoto,
    RejectedPhoto,
    ScoredPhoto,
)
from app.risk import risk_summary
from app.store.database import Database
from app.store.evidence import EvidenceStore
from app.store.models import Account, Detection, Listing, Photo, Sighting, utc_now
from app.store.upsert import insert_if_absent

logger = logging.getLogger(__name__)


def platform_name(value: str) -> str:
    """A platform as stored and looked up: "Facebook", " facebook", "ＦＡＣＥＢＯＯＫ"
    (full-width) and "facebook" are one platform, so a crawler's spelling never splits
    a seller in two."""
    return unicodedata.normalize("NFKC", value).strip().lower()


@dataclass(frozen=True)
class ListingSubmission:
    """A listing as a crawler sends it."""

    platform: str
    account: str
    listing_url: str
    photos: Sequence[ReceivedPhoto]
    caption: str | None = None
    posted_at: datetime | None = None
    price: str | None = None

    @property
    def account_key(self) -> tuple[str, str]:
        return (self.platform, self.account)

    @property
    def content_key(self) -> str:
        """Same account, same URL and the same photos in the same order: the same
        submission. Another account sending them is a repost, recorded as its own
        listing. Migration 0002 recomputes stored keys by this rule."""
        photos = [photo.sha256 for photo in self.photos]
        parts = [self.platform, self.account, self.listing_url, *photos]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class _Written(NamedTuple):
    """What a write transaction did; ``account_id`` is set when it added a listing."""

    listing_id: str
    created: bool
    account_id: int | None = None


@dataclass(frozen=True)
class IngestOutcome:
    """``listing_id`` of the stored listing, or None when every photo was rejected."""

    listing_id: str | None
    created: bool
    rejected: list[RejectedPhoto]


class ListingIngest:
    """Scores and records listings; shared by all request threads."""

    def __init__(
        self,
        database: Database,
        evidence: EvidenceStore,
        scorer: PhotoScorer,
        matcher: Matcher,
        catalog: Catalog,
    ) -> None:
        self.database = database
        self.evidence = evidence
        self.scorer = scorer
        self.matcher = matcher
        self.catalog = catalog
        self._account_ids: dict[tuple[str, str], int] = {}
        """Committed accounts' row ids by (platform, handle): a row, once committed,
        keeps its id for good, so repeat sellers cost no account queries."""

    def ingest(self, submission: ListingSubmission) -> IngestOutcome:
        started = time.perf_counter()
        with self.database.session() as session:
            existing = _listing_id(session, submission.content_key)
            if existing is not None:
                return IngestOutcome(existing, created=False, rejected=[])
            known = _stored_findings(session, submission.photos)

        new = [photo for photo in submission.photos if photo.sha256 not in known]
        scored_now = iter(self.scorer.score_all(new, keep=self._keep))
        results = [
            ScoredPhoto(photo, *known[photo.sha256], hashes=[])
            if photo.sha256 in known
            else next(scored_now)
            for photo in submission.photos
        ]
        scored = [result for result in results if isinstance(result, ScoredPhoto)]
        rejected = [result for result in results if isinstance(result, RejectedPhoto)]
        if not scored:
            return IngestOutcome(None, created=False, rejected=rejected)

        listing_id, created = self._record(submission, results)
        logger.info(
            "Listing %s from %s/%s: %s photos scored (%s already stored), %s rejected "
            "in %.2f s",
            listing_id,
            submission.platform,
            submission.account,
            len(scored),
            len(submission.photos) - len(new),
            len(rejected),
            time.perf_counter() - started,
        )
        return IngestOutcome(listing_id, created, rejected)

    def _keep(self, photo: ReceivedPhoto, data: bytes) -> None:
        """Keep a scored photo's original (evidence first, database rows later)."""
        if not self.evidence.contains(photo.sha256):
            stored_sha256 = self.evidence.put(data)
            assert stored_sha256 == photo.sha256, "photo bytes changed after receipt"

    def _stored_listing(self, content_key: str) -> str | None:
        with self.database.session() as session:
            return _listing_id(session, content_key)

    def _record(
        self,
        submission: ListingSubmission,
        results: Sequence[ScoredPhoto | RejectedPhoto],
    ) -> tuple[str, bool]:
        try:
            with self.database.writing() as session:
                written = self._write(session, submission, results)
            if written.account_id is not None:  # committed: the row exists for good
                self._account_ids[submission.account_key] = written.account_id
            return written.listing_id, written.created
        except IntegrityError:
            # A concurrent request stored the same submission first.
            existing = self._stored_listing(submission.content_key)
            if existing is None:
                raise
            return existing, False

    def _write(
        self,
        session: Session,
        submission: ListingSubmission,
        results: Sequence[ScoredPhoto | RejectedPhoto],
    ) -> _Written:
        existing = _listing_id(session, submission.content_key)
        if existing is not None:
            return _Written(existing, False)
        now = utc_now()
        listing = self._add_listing(session, submission, results, now)
        for result in results:
            if isinstance(result, ScoredPhoto):
                self._add_photo(session, result, now)
        # Bulk INSERTs (executemany) rather than ORM objects, here and for detections.
        session.execute(
            insert(Sighting),
            [
                _sighting(listing.id, position, result, now)
                for position, result in enumerate(results)
            ],
        )
        return _Written(listing.id, True, listing.account_id)

    def _add_listing(
        self,
        session: Session,
        submission: ListingSubmission,
        results: Sequence[ScoredPhoto | RejectedPhoto],
        now: datetime,
    ) -> Listing:
        key = submission.account_key
        account_id = self._account_ids.get(key) or _account_id(session, *key, now)
        entries = [
            entry
            for result in results
            if isinstance(result, ScoredPhoto)
            for detection in result.detections
            for entry in self.catalog.for_label(detection.label)
        ]
        listing = Listing(
            id=uuid.uuid4().hex,
            content_key=submission.content_key,
            account_id=account_id,
            listing_url=submission.listing_url,
            caption=submission.caption,
            posted_at=submission.posted_at,
            price=submission.price,
            submitted_at=now,
            risk=risk_summary(entries),
        )
        session.add(listing)
        session.flush()
        return listing

    def _add_photo(self, session: Session, photo: ScoredPhoto, now: datetime) -> None:
        """Record a photo seen for the first time (nothing when it is known)."""
        decoded, sha256 = photo.decoded, photo.received.sha256
        inserted = insert_if_absent(
            session,
            Photo,
            sha256=sha256,
            media_type=decoded.media_type,
            byte_size=photo.received.byte_size,
            width=decoded.width,
            height=decoded.height,
            frame_count=decoded.frame_count,
            frame_index=decoded.frame_index,
            phash=photo.phash,
            first_seen_at=now,
        )
        if not inserted:
            return
        if photo.detections:
            session.execute(insert(Detection), _detection_rows(sha256, photo))
        self.matcher.store(session, sha256, photo.hashes)


def _listing_id(session: Session, content_key: str) -> str | None:
    """The stored listing with this content key (see ListingSubmission), if any."""
    return session.scalar(select(Listing.id).where(Listing.content_key == content_key))


def _stored_findings(
    session: Session, photos: Sequence[ReceivedPhoto]
) -> dict[str, tuple[PhotoFacts, str, list[detect.Detection]]]:
    """The stored photos among ``photos``, by SHA-256: their facts, pHash and stored
    detections, as the scorer would give them (their hashes are recorded already)."""
    wanted = {photo.sha256 for photo in photos if photo.refusal is None}
    if not wanted:
        return {}
    rows = session.scalars(select(Photo).where(Photo.sha256.in_(wanted))).all()
    if not rows:
        return {}
    detections: dict[str, list[detect.Detection]] = {row.sha256: [] for row in rows}
    query = (
        select(Detection)
        .where(Detection.photo_sha256.in_(detections))
        .order_by(Detection.photo_sha256, Detection.position)
    )
    for stored in session.scalars(query):
        detections[stored.photo_sha256].append(
            detect.Detection(
                stored.label,
                stored.confidence,
                (stored.x1, stored.y1, stored.x2, stored.y2),
                detect.ModelInfo(stored.model_name, stored.model_sha256),
                stored.stage,
            )
        )
    return {
        row.sha256: (
            PhotoFacts(
                row.media_type, row.width, row.height, row.frame_count, row.frame_index
            ),
            row.phash,
            detections[row.sha256],
        )
        for row in rows
    }


def _account_id(session: Session, platform: str, handle: str, now: datetime) -> int:
    insert_if_absent(
        session, Account, platform=platform, handle=handle, first_seen_at=now
    )
    query = select(Account.id).where(
        Account.platform == platform, Account.handle == handle
    )
    return session.scalar(query)


def _detection_rows(sha256: str, photo: ScoredPhoto) -> list[dict]:
    return [
        {
            "photo_sha256": sha256,
            "position": position,
            "label": detection.label,
            "confidence": detection.confidence,
            "x1": detection.box[0],
            "y1": detection.box[1],
            "x2": detection.box[2],
            "y2": detection.box[3],
            "stage": detection.stage,
            "model_name": detection.model.name,
            "model_sha256": detection.model.sha256,
        }
        for position, detection in enumerate(photo.detections)
    ]


def _sighting(
    listing_id: str, position: int, result: ScoredPhoto | RejectedPhoto, now: datetime
) -> dict:
    received = result.received
    error = result.error.to_dict() if isinstance(result, RejectedPhoto) else None
    return {
        "listing_id": listing_id,
        "position": position,
        "filename": received.filename[:255],
        "sha256": received.sha256,
        "status": "rejected" if error else "scored",
        "error": error,
        "submitted_at": now,
    }
