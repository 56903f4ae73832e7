"""Perceptual hashes of photos and their regions."""

from __future__ import annotations

import imagehash
import pytest
from PIL import Image

from app.pipeline.hashing import (
    ALGORITHM,
    HASH_LIBRARY,
    HASH_SIZE,
    photo_phash,
    region_hashes,
)
from tests import reposts
from tests.factories import dataset_photos


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    path = dataset_photos("eagles_owls_web", 1, seed=5)[0]
    return Image.open(path).convert("RGB")


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def best_distance(query: list, stored: list) -> int:
    indexed = [h for h in stored if not h.mirrored]
    return min(distance(q.value, s.value) for q in query for s in indexed)


def test_photo_phash_is_imagehash_phash_as_16_hex_digits(photo):
    assert photo_phash(photo) == str(imagehash.phash(photo))


def test_region_hashes_record_algorithm_size_and_library(photo):
    hashes = region_hashes(photo, [])
    assert {(h.algorithm, h.hash_size, h.library) for h in hashes} == {
        (ALGORITHM, HASH_SIZE, HASH_LIBRARY)
    }
    assert "imagehash 4.3.2" in HASH_LIBRARY
    assert hashes[0].kind == "photo" and hashes[0].hex == photo_phash(photo)


@pytest.mark.parametrize(
    "picture",
    [Image.new("RGB", (640, 480), (90, 120, 60)), Image.new("RGB", (24, 24), "red")],
    ids=["near_uniform", "tiny"],
)
def test_region_hashes_uniform_or_tiny_photo_gives_none(picture):
    assert region_hashes(picture, []) == []


def test_region_hashes_skip_tiny_and_uniform_detection_boxes(photo):
    kinds = [h.kind for h in region_hashes(photo, [(0, 0, 20, 20), (50, 50, 40, 40)])]
    assert "detection" not in kinds


def test_region_hashes_detection_box_gives_crop_and_mirror(photo):
    box = (photo.width * 0.2, photo.height * 0.2, photo.width * 0.8, photo.height * 0.8)
    detections = [h for h in region_hashes(photo, [box]) if h.kind == "detection"]
    assert [h.mirrored for h in detections] == [False, True]


@pytest.mark.parametrize(
    "repost",
    [
        reposts.mirrored,
        lambda p: reposts.cropped(p, 0.08, 0.5),
        lambda p: reposts.bordered(p, 0.12),
        reposts.phone_screenshot,
    ],
    ids=["mirror", "crop_8_percent", "border", "screenshot"],
)
def test_region_hashes_repost_is_near_original(photo, repost):
    query = region_hashes(repost(photo), [])
    assert best_distance(query, region_hashes(photo, [])) <= 10
