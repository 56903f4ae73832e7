"""Train/validation/test splits that never let near-duplicates straddle two splits.

Photos are grouped first: video frames by clip, then any two photos whose whole-photo
pHash differ by at most ``NEAR_DUPLICATE_DISTANCE`` bits are joined (union-find). Each
group goes whole to one split, chosen by a hash of its first member's path, so the split
is the same on every machine and run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from app.pipeline.hashing import photo_phash as whole_photo_phash
from training.sources import SourcePhoto

NEAR_DUPLICATE_DISTANCE = 8
"""pHash bits within which two photos count as the same picture for splitting."""

SPLIT_SHARES = (("train", 0.8), ("val", 0.1), ("test", 0.1))


def photo_phash(path: Path) -> int:
    """The whole-photo pHash the service computes (app/pipeline/hashing.py), as int."""
    with Image.open(path) as image:
        return int(whole_photo_phash(image.convert("RGB")), 16)


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, index: int) -> int:
        while self.parent[index] != index:
            self.parent[index] = self.parent[self.parent[index]]
            index = self.parent[index]
        return index

    def union(self, first: int, second: int) -> None:
        self.parent[self.find(first)] = self.find(second)


def group_photos(photos: Sequence[SourcePhoto], hashes: Sequence[int]) -> list[int]:
    """A group number per photo: same clip, or near-duplicate pHash, share a group."""
    groups = _UnionFind(len(photos))
    first_of_clip: dict[str, int] = {}
    for index, photo in enumerate(photos):
        if photo.clip is not None:
            groups.union(index, first_of_clip.setdefault(photo.clip, index))
    for first, second in _near_duplicate_pairs(hashes):
        groups.union(first, second)
    return [groups.find(index) for index in range(len(photos))]


def _near_duplicate_pairs(hashes: Sequence[int]) -> list[tuple[int, int]]:
    values = np.array(hashes, dtype=np.uint64)
    pairs = []
    for index in range(len(values)):
        distances = np.bitwise_count(values[index + 1 :] ^ values[index])
        for offset in np.nonzero(distances <= NEAR_DUPLICATE_DISTANCE)[0]:
            pairs.append((index, index + 1 + int(offset)))
    return pairs


def split_of_group(key: str) -> str:
    """The split a group goes to, from a stable hash of its key."""
    fraction = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    cumulative = 0.0
    for name, share in SPLIT_SHARES:
        cumulative += share
        if fraction <= cumulative:
            return name
    return SPLIT_SHARES[-1][0]


def assign_splits(photos: Sequence[SourcePhoto], hashes: Sequence[int]) -> list[str]:
    """The split of each photo; a whole group always lands in one split."""
    groups = group_photos(photos, hashes)
    leader_path: dict[int, str] = {}
    for photo, group in zip(photos, groups):
        leader_path.setdefault(group, str(photo.path.name) + photo.source)
    return [split_of_group(leader_path[group]) for group in groups]
