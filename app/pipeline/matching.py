"""Find earlier photos with the same or nearly the same content.

A :class:`Matcher` keeps every stored region hash (see :mod:`app.pipeline.hashing`) in
an in-memory exact Hamming index, built from the database at start. Several server
processes may write to one database, so before each search the matcher reads the hash
rows other processes committed since it last looked (rows with a higher id, plus ids it
saw skipped: a concurrent transaction may commit a lower id after a higher one).

Each ingest calls :meth:`Matcher.store` inside its write transaction for every new
photo: it records the photo's hashes and the matches :meth:`Matcher.find` gives (the
evidence the account graph is built from). The index takes the hashes in once they
are committed, at the next search (or count) in this process, like any other
process's.

The search that :meth:`Matcher.store` records runs inside the ingest's write
transaction, and write transactions take turns across processes (SQLite's write lock;
an advisory lock on PostgreSQL, see app.store.database), so of two near-duplicates sent
to two processes at the same moment the second to commit always finds the first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from app.pipeline.hash_index import HashIndex, MultiIndexHashIndex
from app.pipeline.hashing import RegionHash
from app.settings import Settings
from app.store.models import PhotoHash, PhotoMatchRecord

logger = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]

GAP_PATIENCE_S = 600.0
"""How long a skipped row id is looked for again before it counts as rolled back."""

MAX_GAPS = 100_000
"""Skipped row ids remembered at most (the oldest are forgotten first)."""

CORROBORATION_SLACK = 2
CORROBORATING_PAIRS = 3
"""An earlier photo whose best region pair is just over the match distance still
matches when at least this many (query region, stored region) pairs lie within the
match distance plus CORROBORATION_SLACK bits. A cropped repost shifts every region a
little, so several pairs come close together; between unrelated photos one close pair
is chance and three rarely are. On 600 real photos this adds no false matches over
unrelated pairs while finding about 0.5 % more 3-10 % crops and letterboxes
(benchmarks/matching_robustness.py); two pairs would add false matches."""


@dataclass(frozen=True)
class PhotoMatch:
    """An earlier photo within the match distance, with the regions that matched."""

    photo_sha256: str
    distance: int
    query_kind: str = "photo"
    matched_kind: str = "photo"


def _default_index() -> HashIndex:
    """Multi-index hashing; its rebuilds run beside the searches, not in a request."""
    return MultiIndexHashIndex(background_rebuild=True)


class Matcher:
    """The near-duplicate index of every stored photo, kept in step with the database.

    Safe to share between the threads of one process; several processes each hold
    their own and catch up from the database before every search.
    """

    def __init__(
        self,
        session_factory: SessionFactory,
        settings: Settings,
        index_factory: Callable[[], HashIndex] = _default_index,
    ) -> None:
        self._session_factory = session_factory
        self.max_distance = settings.match_max_distance
        self._index = index_factory()
        self._photos = _PhotoLabels()
        self._cursor = _RowCursor()
        self._lock = threading.Lock()

    def load(self) -> None:
        """Build the index from every hash row in the database."""
        started = time.perf_counter()
        with self._lock:
            count = self._catch_up()
            if isinstance(self._index, MultiIndexHashIndex):
                self._index.rebuild()
        logger.info(
            "Loaded %s region hashes of %s photos into the match index in %.2f s",
            count,
            len(self._photos),
            time.perf_counter() - started,
        )

    def find(
        self, hashes: Sequence[RegionHash], exclude_sha256: str | None = None
    ) -> list[PhotoMatch]:
        """Earlier photos within :attr:`max_distance` of any of ``hashes``, or just
        over it with corroborating regions (see ``CORROBORATING_PAIRS``).

        One match per earlier photo (its best distance), nearest first; the photo
        ``exclude_sha256`` (usually the query photo itself) is left out.
        """
        with self._lock:
            self._catch_up()
            best = self._best_matches(hashes)
        best.pop(exclude_sha256, None)
        return sorted(
            best.values(), key=lambda match: (match.distance, match.photo_sha256)
        )

    def store(
        self, session: Session, photo_sha256: str, hashes: Sequence[RegionHash]
    ) -> None:
        """Add the photo's hashes and its matches to ``session``: once per photo, in
        the transaction that adds its row."""
        # Bulk INSERTs (executemany), not ORM objects: a photo has a dozen hashes.
        if hashes:
            session.execute(insert(PhotoHash), _hash_rows(photo_sha256, hashes))
        matches = self.find(hashes, exclude_sha256=photo_sha256)
        if matches:
            session.execute(
                insert(PhotoMatchRecord), _match_rows(photo_sha256, matches)
            )

    def __len__(self) -> int:
        """Hashes in the index, with every committed row taken in first."""
        with self._lock:
            self._catch_up()
            return len(self._index)

    def _best_matches(self, hashes: Sequence[RegionHash]) -> dict[str, PhotoMatch]:
        best: dict[str, PhotoMatch] = {}
        close_pairs: Counter[str] = Counter()
        radius = self.max_distance + CORROBORATION_SLACK
        for region in hashes:
            labels, distances = self._index.query(region.value, radius)
            for label, distance in zip(
                labels.tolist(), distances.tolist(), strict=True
            ):
                sha256, kind = self._photos.entry(label)
                close_pairs[sha256] += 1
                known = best.get(sha256)
                if known is None or distance < known.distance:
                    best[sha256] = PhotoMatch(sha256, distance, region.kind, kind)
        return {
            sha256: match
            for sha256, match in best.items()
            if match.distance <= self.max_distance
            or close_pairs[sha256] >= CORROBORATING_PAIRS
        }

    def _catch_up(self) -> int:
        with self._session_factory() as session:
            rows = session.execute(
                select(
                    PhotoHash.id,
                    PhotoHash.photo_sha256,
                    PhotoHash.kind,
                    PhotoHash.value,
                    PhotoHash.mirrored,
                )
                .where(self._cursor.unseen(PhotoHash.id))
                .order_by(PhotoHash.id)
            ).all()
        self._cursor.advance([row.id for row in rows])
        indexed = [row for row in rows if not row.mirrored]
        if indexed:
            labels = [self._photos.label(row.photo_sha256, row.kind) for row in indexed]
            values = [to_unsigned(row.value) for row in indexed]
            self._index.add(np.array(values, dtype=np.uint64), np.array(labels))
        return len(indexed)


class _PhotoLabels:
    """Integer index labels for (photo sha256, region kind) pairs."""

    def __init__(self) -> None:
        self._labels: dict[tuple[str, str], int] = {}
        self._entries: list[tuple[str, str]] = []
        self._photos: set[str] = set()

    def label(self, photo_sha256: str, kind: str) -> int:
        key = (photo_sha256, kind)
        if key not in self._labels:
            self._labels[key] = len(self._entries)
            self._entries.append(key)
            self._photos.add(photo_sha256)
        return self._labels[key]

    def entry(self, label: int) -> tuple[str, str]:
        return self._entries[label]

    def __len__(self) -> int:
        return len(self._photos)


class _RowCursor:
    """Which hash row ids this process has read, including ids it saw skipped."""

    def __init__(self) -> None:
        self.last_id = 0
        self._gaps: dict[int, float] = {}

    def unseen(self, column):
        """SQL condition for rows not read yet."""
        self._forget_old_gaps()
        if not self._gaps:
            return column > self.last_id
        return or_(column > self.last_id, column.in_(list(self._gaps)))

    def advance(self, row_ids: Iterable[int]) -> None:
        now = time.monotonic()
        for row_id in sorted(row_ids):
            self._gaps.pop(row_id, None)
            if row_id > self.last_id:
                skipped_from = max(self.last_id + 1, row_id - MAX_GAPS)
                for missing in range(skipped_from, row_id):
                    self._gaps[missing] = now
                self.last_id = row_id

    def _forget_old_gaps(self) -> None:
        cutoff = time.monotonic() - GAP_PATIENCE_S
        stale = [row_id for row_id, seen in self._gaps.items() if seen < cutoff]
        oldest = list(self._gaps)[: max(0, len(self._gaps) - MAX_GAPS)]
        for row_id in {*stale, *oldest}:
            del self._gaps[row_id]


def _hash_rows(photo_sha256: str, hashes: Sequence[RegionHash]) -> list[dict]:
    return [
        {
            "photo_sha256": photo_sha256,
            "kind": region.kind,
            "mirrored": region.mirrored,
            "value": to_signed(region.value),
            "algorithm": region.algorithm,
            "hash_size": region.hash_size,
            "library": region.library,
            "box": list(region.box) if region.box else None,
        }
        for region in hashes
    ]


def _match_rows(photo_sha256: str, matches: Sequence[PhotoMatch]) -> list[dict]:
    return [
        {
            "photo_sha256": photo_sha256,
            "earlier_sha256": match.photo_sha256,
            "distance": match.distance,
            "query_kind": match.query_kind,
            "matched_kind": match.matched_kind,
        }
        for match in matches
    ]


def to_signed(value: int) -> int:
    """A 64-bit unsigned hash as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    """The inverse of :func:`to_signed`."""
    return value + (1 << 64) if value < 0 else value
