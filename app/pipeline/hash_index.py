"""Exact Hamming range search over 64-bit perceptual hashes.

Two implementations of one small interface (:class:`HashIndex`: add, query, serialize):

- :class:`BruteForceIndex` compares the query with every stored hash (numpy); the
  reference, and fast enough for a few hundred thousand hashes.
- :class:`MultiIndexHashIndex` is multi-index hashing (Norouzi, Punjani and Fleet,
  2012): each hash is cut into ``m`` chunks, one table per chunk. If two hashes are at
  most ``r`` bits apart, then by the pigeonhole principle one of their chunks is at most
  ``r // m`` bits apart (refined: with ``r = m*q + a``, one of the first ``a + 1``
  chunks is within ``q`` bits or one of the others within ``q - 1``). Probing every
  chunk value within that radius finds every candidate; each candidate is then checked
  with its full distance. The search is exact: nothing within ``r`` is missed.

Hashes added after the last build sit in a pending buffer that is scanned brute force
until it grows past a share of the index; then the tables are rebuilt.

A rebuild takes seconds at ten million hashes (the sorts of three tables); with
``background_rebuild`` it runs in a thread and searches go on meanwhile.
"""

from __future__ import annotations

import io
import itertools
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

HASH_BITS = 64
MAX_CHUNK_BITS = 22


class HashIndex(Protocol):
    """A set of (64-bit hash, integer label) entries searchable by Hamming radius."""

    def add(self, hashes: np.ndarray, labels: np.ndarray) -> None:
        """Add ``hashes`` (uint64) with their ``labels`` (int64); duplicates allowed."""

    def query(self, value: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Labels and distances of every entry within ``radius`` bits of ``value``."""

    def serialize(self) -> bytes:
        """The entries as bytes that :func:`load_index` turns back into an index."""

    def __len__(self) -> int: ...


class BruteForceIndex:
    """Exact search by comparing the query with every entry."""

    def __init__(self) -> None:
        self._hashes = np.empty(0, dtype=np.uint64)
        self._labels = np.empty(0, dtype=np.int64)

    def add(self, hashes: np.ndarray, labels: np.ndarray) -> None:
        hashes, labels = _checked_entries(hashes, labels)
        self._hashes = np.concatenate([self._hashes, hashes])
        self._labels = np.concatenate([self._labels, labels])

    def query(self, value: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        distances = hamming_distances(self._hashes, value)
        hits = np.flatnonzero(distances <= radius)
        return self._labels[hits], distances[hits]

    def serialize(self) -> bytes:
        return _serialize_entries(*self.entries())

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """The stored hashes and their labels, in insertion order."""
        return self._hashes, self._labels

    def __len__(self) -> int:
        return len(self._hashes)


class MultiIndexHashIndex:
    """Exact Hamming range search with multi-index hashing (see module docstring).

    ``chunk_count`` None picks the chunk count at each build from the number of
    entries (see ``_auto_chunk_count``). ``rebuild_share``: the pending buffer is
    merged into the tables once it holds this share of the indexed entries. With
    ``background_rebuild`` that merge runs in a thread while searches go on against
    the old tables and the pending buffer; the new tables are swapped in when ready.
    Safe to use from several threads.
    """

    MIN_PENDING = 4096
    """Pending entries always tolerated before a rebuild (a scan of these is cheap)."""

    def __init__(
        self,
        chunk_count: int | None = None,
        rebuild_share: float = 0.1,
        background_rebuild: bool = False,
    ) -> None:
        self._chunk_count = chunk_count
        self._rebuild_share = rebuild_share
        self._background_rebuild = background_rebuild
        self._built = _BuiltTables.empty()
        self._pending = BruteForceIndex()
        self._lock = threading.Lock()
        self._rebuild_lock = threading.Lock()
        self._rebuild_thread: threading.Thread | None = None

    def add(self, hashes: np.ndarray, labels: np.ndarray) -> None:
        with self._lock:
            self._pending.add(hashes, labels)
            limit = max(self.MIN_PENDING, self._rebuild_share * len(self._built))
            due = len(self._pending) > limit
        if due and not self._background_rebuild:
            self.rebuild()
        elif due:
            self._start_background_rebuild()

    def rebuild(self) -> None:
        """Merge the pending buffer into the chunk tables (nothing to do when empty)."""
        with self._rebuild_lock:
            hashes, labels, merged = self._snapshot()
            if merged == 0 and self._built.tables:
                return
            chunk_count = self._chunk_count or _auto_chunk_count(len(hashes))
            self._install(_BuiltTables.build(hashes, labels, chunk_count), merged)

    def wait_for_rebuild(self) -> None:
        """Block until a background rebuild in progress has swapped its tables in."""
        thread = self._rebuild_thread
        if thread is not None:
            thread.join()

    def query(self, value: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            built, pending = self._built, self._pending.entries()
        labels, distances = built.query(value, radius)
        pending_distances = hamming_distances(pending[0], value)
        hits = np.flatnonzero(pending_distances <= radius)
        return (
            np.concatenate([labels, pending[1][hits]]),
            np.concatenate([distances, pending_distances[hits]]),
        )

    def serialize(self) -> bytes:
        hashes, labels, _merged = self._snapshot()
        return _serialize_entries(hashes, labels)

    @property
    def nbytes(self) -> int:
        """Memory held by the entries and chunk tables, in bytes."""
        return self._built.nbytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._built) + len(self._pending)

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Every entry, and how many of them came from the pending buffer."""
        with self._lock:
            pending_hashes, pending_labels = self._pending.entries()
            built = self._built
        return (
            np.concatenate([built.hashes, pending_hashes]),
            np.concatenate([built.labels, pending_labels]),
            len(pending_hashes),
        )

    def _install(self, built: _BuiltTables, merged: int) -> None:
        """Swap in new tables; pending entries added since the snapshot stay pending."""
        with self._lock:
            hashes, labels = self._pending.entries()
            self._pending = BruteForceIndex()
            self._pending.add(hashes[merged:], labels[merged:])
            self._built = built

    def _start_background_rebuild(self) -> None:
        with self._lock:
            if self._rebuild_thread is not None and self._rebuild_thread.is_alive():
                return
            self._rebuild_thread = threading.Thread(
                target=self.rebuild, name="hash-index-rebuild", daemon=True
            )
            self._rebuild_thread.start()


@dataclass(frozen=True)
class _BuiltTables:
    """Entries and their chunk tables, never changed once built."""

    hashes: np.ndarray
    labels: np.ndarray
    tables: list[_ChunkTable]

    @classmethod
    def empty(cls) -> _BuiltTables:
        return cls(np.empty(0, np.uint64), np.empty(0, np.int64), [])

    @classmethod
    def build(
        cls, hashes: np.ndarray, labels: np.ndarray, chunk_count: int
    ) -> _BuiltTables:
        layout = _chunk_layout(_chunk_widths(chunk_count))
        tables = [_ChunkTable.build(hashes, shift, width) for shift, width in layout]
        return cls(hashes, labels, tables)

    def query(self, value: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.tables:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        quotient, remainder = divmod(radius, len(self.tables))
        candidates = [
            table.candidates(value, quotient if index <= remainder else quotient - 1)
            for index, table in enumerate(self.tables)
        ]
        positions = np.concatenate(candidates)
        distances = hamming_distances(self.hashes[positions], value)
        hits = distances <= radius
        # A hash found through several chunks is verified more than once: cheaper
        # than sorting every candidate, and only the few hits are deduplicated.
        positions, first = np.unique(positions[hits], return_index=True)
        return self.labels[positions], distances[hits][first]

    @property
    def nbytes(self) -> int:
        tables = sum(table.nbytes for table in self.tables)
        return self.hashes.nbytes + self.labels.nbytes + tables

    def __len__(self) -> int:
        return len(self.hashes)


class _ChunkTable:
    """Entries sorted by one chunk of their hash, with bucket offsets per chunk value."""

    def __init__(self, shift: int, width: int, order: np.ndarray, offsets: np.ndarray):
        self.shift = shift
        self.width = width
        self.order = order
        self.offsets = offsets

    @classmethod
    def build(cls, hashes: np.ndarray, shift: int, width: int) -> _ChunkTable:
        chunks = _chunk_values(hashes, shift, width)
        order = np.argsort(chunks, kind="stable").astype(np.int32)
        counts = np.bincount(chunks, minlength=1 << width)
        offsets = np.zeros((1 << width) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(shift, width, order, offsets.astype(np.int32))

    def candidates(self, value: int, radius: int) -> np.ndarray:
        """Positions of entries whose chunk lies within ``radius`` bits of the query's."""
        if radius < 0:
            return np.empty(0, dtype=np.int32)
        chunk = (value >> self.shift) & ((1 << self.width) - 1)
        keys = _flip_masks(self.width, radius) ^ chunk
        starts = self.offsets[keys].astype(np.int64)
        lengths = self.offsets[keys + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, dtype=np.int32)
        run_starts = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return self.order[run_starts + np.arange(total)]

    @property
    def nbytes(self) -> int:
        return self.order.nbytes + self.offsets.nbytes


def hamming_distances(hashes: np.ndarray, value: int) -> np.ndarray:
    """Bit distances between each of ``hashes`` (uint64) and ``value``, as int64."""
    return np.bitwise_count(hashes ^ np.uint64(value)).astype(np.int64)


def load_index(data: bytes, index: HashIndex | None = None) -> HashIndex:
    """Fill ``index`` (default: a new :class:`MultiIndexHashIndex`) from ``data``."""
    index = index if index is not None else MultiIndexHashIndex()
    hashes, labels = _deserialize_entries(data)
    index.add(hashes, labels)
    if isinstance(index, MultiIndexHashIndex):
        index.rebuild()
    return index


@lru_cache(maxsize=64)
def _flip_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit mask with at most ``radius`` bits set."""
    masks = [0]
    for count in range(1, min(radius, width) + 1):
        for bits in itertools.combinations(range(width), count):
            masks.append(sum(1 << bit for bit in bits))
    return np.array(masks, dtype=np.int64)


def _auto_chunk_count(size: int) -> int:
    """About eight times as many buckets per table as entries, 22 bits at most (a
    16 MiB offset table): three tables from a million hashes up."""
    bits_per_chunk = min(MAX_CHUNK_BITS, max(8, int(np.log2(max(size, 2))) + 3))
    return -(-HASH_BITS // bits_per_chunk)


def _chunk_widths(chunk_count: int) -> list[int]:
    base, extra = divmod(HASH_BITS, chunk_count)
    return [base + 1 if index < extra else base for index in range(chunk_count)]


def _chunk_layout(widths: list[int]) -> list[tuple[int, int]]:
    shifts = np.cumsum([0, *widths[:-1]])
    return [(int(shift), width) for shift, width in zip(shifts, widths, strict=True)]


def _chunk_values(hashes: np.ndarray, shift: int, width: int) -> np.ndarray:
    mask = np.uint64((1 << width) - 1)
    return ((hashes >> np.uint64(shift)) & mask).astype(np.int64)


def _checked_entries(
    hashes: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    hashes = np.asarray(hashes, dtype=np.uint64).ravel()
    labels = np.asarray(labels, dtype=np.int64).ravel()
    if len(hashes) != len(labels):
        raise ValueError(
            f"Expected one label per hash; got {len(hashes)} hashes and "
            f"{len(labels)} labels"
        )
    return hashes, labels


def _serialize_entries(hashes: np.ndarray, labels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, hashes=hashes, labels=labels)
    return buffer.getvalue()


def _deserialize_entries(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    with np.load(io.BytesIO(data)) as arrays:
        return _checked_entries(arrays["hashes"], arrays["labels"])
