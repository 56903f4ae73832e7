"""The rows the account graph is built from, read from the database in one go.

Limitation: the whole graph is rebuilt from every posting, match and caption on each
request; fine for tens of thousands of listings, too slow for millions (the graph would
then be kept up to date at ingest instead).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from app.store.models import (
    Account,
    Detection,
    Listing,
    PhotoMatchRecord,
    Sighting,
    UtcDateTime,
)


@dataclass(frozen=True)
class AccountInfo:
    """An account with the span of its postings (posted, else received)."""

    account_id: int
    platform: str
    handle: str
    first_activity: datetime | None
    last_activity: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "account": self.handle,
            "first_activity": iso(self.first_activity),
            "last_activity": iso(self.last_activity),
        }


@dataclass(frozen=True)
class Posting:
    """One photo in one listing of one account, and when it was posted."""

    photo_sha256: str
    account_id: int
    listing_id: str
    posted_at: datetime


@dataclass(frozen=True)
class LinkRecords:
    """Accounts, postings, photo matches, captions and detection labels."""

    account_rows: list[tuple[int, str, str]]
    postings: list[Posting]
    matches: list[tuple[str, str, int]]
    captions: list[tuple[str, int, str]]
    labels: dict[str, list[str]]

    def accounts(self) -> dict[int, AccountInfo]:
        """Every account with the span of its postings."""
        moments: dict[int, list[datetime]] = defaultdict(list)
        for posting in self.postings:
            moments[posting.account_id].append(posting.posted_at)
        return {
            account_id: AccountInfo(
                account_id,
                platform,
                handle,
                min(moments[account_id], default=None),
                max(moments[account_id], default=None),
            )
            for account_id, platform, handle in self.account_rows
        }

    def first_posts(self) -> dict[str, dict[int, datetime]]:
        """Photo sha256 -> account id -> when that account first posted it."""
        first: dict[str, dict[int, datetime]] = defaultdict(dict)
        for posting in self.postings:
            known = first[posting.photo_sha256].get(posting.account_id)
            if known is None or posting.posted_at < known:
                first[posting.photo_sha256][posting.account_id] = posting.posted_at
        return first


def load_link_records(session: Session) -> LinkRecords:
    """Read everything the account graph needs."""
    accounts = session.execute(select(Account.id, Account.platform, Account.handle))
    return LinkRecords(
        account_rows=[tuple(row) for row in accounts],
        postings=_postings(session),
        matches=_matches(session),
        captions=_captions(session),
        labels=_labels(session),
    )


def _postings(session: Session) -> list[Posting]:
    query = (
        select(
            Sighting.sha256,
            Listing.account_id,
            Listing.id,
            type_coerce(
                func.coalesce(Listing.posted_at, Listing.submitted_at), UtcDateTime()
            ),
        )
        .join(Listing, Listing.id == Sighting.listing_id)
        .where(Sighting.status == "scored")
    )
    return [
        Posting(sha256, account_id, listing_id, posted_at)
        for sha256, account_id, listing_id, posted_at in session.execute(query)
    ]


def _matches(session: Session) -> list[tuple[str, str, int]]:
    query = select(
        PhotoMatchRecord.photo_sha256,
        PhotoMatchRecord.earlier_sha256,
        PhotoMatchRecord.distance,
    )
    return [tuple(row) for row in session.execute(query)]


def _captions(session: Session) -> list[tuple[str, int, str]]:
    query = select(Listing.id, Listing.account_id, Listing.caption).where(
        Listing.caption.is_not(None)
    )
    return [tuple(row) for row in session.execute(query)]


def _labels(session: Session) -> dict[str, list[str]]:
    labels: dict[str, list[str]] = defaultdict(list)
    for photo_sha256, label in session.execute(
        select(Detection.photo_sha256, Detection.label)
    ):
        labels[photo_sha256].append(label)
    return labels


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
