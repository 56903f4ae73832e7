"""One conformance test for every HashIndex implementation: exact range search."""

from __future__ import annotations

import numpy as np
import pytest

from app.pipeline.hash_index import (
    BruteForceIndex,
    MultiIndexHashIndex,
    hamming_distances,
    load_index,
)

IMPLEMENTATIONS = {
    "brute_force": BruteForceIndex,
    "mih_auto": MultiIndexHashIndex,
    "mih_4_chunks": lambda: MultiIndexHashIndex(chunk_count=4),
    "mih_3_chunks_rebuilt_late": lambda: MultiIndexHashIndex(
        chunk_count=3, rebuild_share=100.0
    ),
    "mih_background_rebuild": lambda: MultiIndexHashIndex(
        chunk_count=4, background_rebuild=True
    ),
}


def flipped(value: int, bits: list[int]) -> int:
    for bit in bits:
        value ^= 1 << int(bit)
    return value


@pytest.fixture(scope="module")
def stored() -> np.ndarray:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2**64, size=20_000, dtype=np.uint64)
    # Clusters of near-duplicates at every distance up to 16 from a few centres.
    centres = [int(value) for value in base[:20]]
    planted = [
        flipped(centre, list(rng.choice(64, size=distance, replace=False)))
        for centre in centres
        for distance in range(17)
    ]
    return np.concatenate([base, np.array(planted, dtype=np.uint64)])


def built(implementation, hashes: np.ndarray):
    index = IMPLEMENTATIONS[implementation]()
    for chunk in np.array_split(np.arange(len(hashes)), 7):
        index.add(hashes[chunk], chunk)
    return index


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("radius", [0, 3, 8, 12, 16])
def test_index_query_radius_returns_exactly_brute_force_answer(
    implementation, radius, stored
):
    index = built(implementation, stored)
    for query in [int(value) for value in stored[:20]] + [0, 2**64 - 1]:
        labels, distances = index.query(query, radius)
        expected = np.flatnonzero(hamming_distances(stored, query) <= radius)
        order = np.argsort(labels)
        assert labels[order].tolist() == expected.tolist()
        assert (distances[order] == hamming_distances(stored[expected], query)).all()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_index_serialize_round_trip_keeps_every_entry(implementation, stored):
    index = built(implementation, stored)
    restored = load_index(index.serialize())
    query = int(stored[5])
    assert len(restored) == len(stored)
    assert sorted(restored.query(query, 10)[0]) == sorted(index.query(query, 10)[0])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_index_empty_query_returns_nothing(implementation):
    labels, distances = IMPLEMENTATIONS[implementation]().query(12345, 16)
    assert len(labels) == len(distances) == 0


def test_index_add_mismatched_labels_raises_naming_both_counts():
    with pytest.raises(ValueError, match="3 hashes and 2 labels"):
        BruteForceIndex().add(np.zeros(3, np.uint64), np.zeros(2, np.int64))


def test_index_background_rebuild_merges_pending_and_keeps_later_adds(stored):
    index = MultiIndexHashIndex(chunk_count=4, background_rebuild=True)
    index.add(stored[:10_000], np.arange(10_000))
    index.add(stored[10_000:], np.arange(10_000, len(stored)))
    index.wait_for_rebuild()

    assert index.nbytes > stored.nbytes
    assert len(index) == len(stored)
    labels, _distances = index.query(int(stored[-1]), 0)
    assert len(stored) - 1 in labels.tolist()
