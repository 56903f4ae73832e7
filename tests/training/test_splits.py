"""Splits keep near-duplicates and video clips together."""

from __future__ import annotations

import random
from pathlib import Path

from training.sources import SourcePhoto
from training.splits import (
    NEAR_DUPLICATE_DISTANCE,
    assign_splits,
    group_photos,
    split_of_group,
)


def _photo(name: str, clip: str | None = None) -> SourcePhoto:
    return SourcePhoto(path=Path(name), label="tiger", source="test", clip=clip)


def test_group_photos_near_duplicate_hashes_share_a_group():
    photos = [_photo("a.jpg"), _photo("b.jpg"), _photo("c.jpg")]
    near = (1 << NEAR_DUPLICATE_DISTANCE) - 1  # differs from 0 in exactly 8 bits
    far = (1 << 40) - 1

    groups = group_photos(photos, [0, near, far])

    assert groups[0] == groups[1]
    assert groups[2] != groups[0]


def test_group_photos_same_clip_shares_a_group_whatever_the_hash():
    photos = [_photo("f1.jpg", clip="v#0"), _photo("f2.jpg", clip="v#0")]

    groups = group_photos(photos, [0, (1 << 64) - 1])

    assert groups[0] == groups[1]


def test_assign_splits_group_members_land_in_one_split():
    photos = [_photo(f"{n}.jpg", clip=f"v#{n // 10}") for n in range(200)]
    hashes = [random.Random(n).getrandbits(64) for n in range(200)]

    splits = assign_splits(photos, hashes)

    for clip in range(20):
        assert len(set(splits[clip * 10 : clip * 10 + 10])) == 1
    assert set(splits) == {"train", "val", "test"}


def test_split_of_group_same_key_same_split():
    assert split_of_group("photo.jpg/source") == split_of_group("photo.jpg/source")
