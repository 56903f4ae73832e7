"""Perceptual hashes of photos and their regions."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageOps

from app.pipeline.decode import decode_photo
from app.pipeline.hashing import (
    ALGORITHM,
    HASH_LIBRARY,
    HASH_SIZE,
    WORKING_SIDE,
    photo_hashes,
    photo_phash,
    region_hashes,
)
from tests import reposts
from tests.factories import bad_input, dataset_photos


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


def synthetic_pictures() -> dict[str, Image.Image]:
    """Pictures whose DCT has exact zeros in SciPy: constant along rows or columns."""
    side = 64
    rows, columns = np.mgrid[0:side, 0:side]
    pixels = {
        "solid": np.full((side, side), 120),
        "vertical gradient": rows * 4,
        "horizontal gradient": columns * 4,
        "diagonal gradient": (rows + columns) * 2,
        "vertical stripes": (columns // 8 % 2) * 200,
        "horizontal stripes": (rows // 8 % 2) * 200,
        "two bands": (rows >= side // 2) * 200,
        "checkerboard": ((rows // 8 + columns // 8) % 2) * 200,
        "one pixel": np.pad([[255]], ((0, side - 1), (0, side - 1))),
    }
    return {
        name: Image.fromarray(values.astype(np.uint8)).convert("RGB")
        for name, values in pixels.items()
    }


@pytest.mark.parametrize("name", list(synthetic_pictures()))
def test_photo_phash_is_imagehash_phash_of_flat_striped_and_gradient_pictures(name):
    picture = synthetic_pictures()[name]
    assert photo_phash(picture) == str(imagehash.phash(picture))
    mirrored = ImageOps.mirror(picture)
    assert photo_phash(mirrored) == str(imagehash.phash(mirrored))


@pytest.mark.parametrize("case", ["06", "08", "24a", "24b", "26", "27"])
def test_photo_phash_is_imagehash_phash_of_bad_input_cases(case):
    picture = decode_photo(bad_input(case), max_pixels=10**8, max_frames=50).image
    assert photo_phash(picture) == str(imagehash.phash(picture))


IDENTITY_FOLDERS = (
    "eagles_owls_web",
    "parrots4_kaggle_raw",
    "reptiles_amphibians_kaggle",
    "popular_animals_google",
)


def identity_cases() -> list[tuple[str, Image.Image]]:
    """Real photos of four folders and their asymmetric crops (60 pictures)."""
    cases = []
    for folder in IDENTITY_FOLDERS:
        for index, path in enumerate(dataset_photos(folder, 5, seed=11)):
            photo = Image.open(path).convert("RGB")
            cases.append((path.name, photo))
            for share, left in ((0.05, 0.1), (0.1, 0.8)):
                cases.append((f"{path.name} crop", reposts.cropped(photo, share, left)))
    return cases


def test_region_hashes_are_imagehash_phash_of_each_region_and_its_mirror():
    checked = 0
    for name, picture in identity_cases():
        assert max(picture.size) < 2 * WORKING_SIDE, f"{name} is hashed reduced"
        gray = picture.convert("L")
        for region in region_hashes(picture, []):
            crop = gray.crop(region.box)
            view = ImageOps.mirror(crop) if region.mirrored else crop
            expected = str(imagehash.phash(view, hash_size=HASH_SIZE))
            assert region.hex == expected, (name, region.kind, region.mirrored)
            checked += 1
    assert checked >= 60 * 10


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


@pytest.mark.parametrize(
    "picture",
    [
        *(
            Image.open(path).convert("RGB")
            for path in dataset_photos("eagles_owls_web", 3)
        ),
        Image.new("RGB", (640, 480), (90, 120, 60)),
        Image.new("RGB", (24, 24), "red"),
    ],
    ids=["photo1", "photo2", "photo3", "near_uniform", "tiny"],
)
def test_photo_hashes_are_photo_phash_and_region_hashes(picture):
    boxes = [(10.0, 10.0, 200.0, 150.0)]

    assert photo_hashes(picture, boxes) == (
        photo_phash(picture),
        region_hashes(picture, boxes),
    )


def test_region_hashes_skip_tiny_and_uniform_detection_boxes(photo):
    kinds = [h.kind for h in region_hashes(photo, [(0, 0, 20, 20), (50, 50, 40, 40)])]
    assert "detection" not in kinds


def test_region_hashes_detection_box_gives_crop_and_mirror(photo):
    box = (photo.width * 0.2, photo.height * 0.2, photo.width * 0.8, photo.height * 0.8)
    detections = [h for h in region_hashes(photo, [box]) if h.kind == "detection"]
    assert [h.mirrored for h in detections] == [False, True]


def test_region_hashes_give_a_region_flush_with_each_corner(photo):
    width, height = photo.size
    corners = [h.box for h in region_hashes(photo, []) if h.kind == "corner"]
    flush = {
        (x1 == 0, y1 == 0, x2 == width, y2 == height) for x1, y1, x2, y2 in corners
    }
    assert flush == {
        (True, True, False, False),
        (False, True, True, False),
        (True, False, False, True),
        (False, False, True, True),
    }


@pytest.mark.parametrize(
    "repost",
    [
        reposts.mirrored,
        lambda p: reposts.cropped(p, 0.08, 0.5),
        lambda p: reposts.cropped(p, 0.10, 0.0),
        lambda p: reposts.bordered(p, 0.12),
        reposts.phone_screenshot,
    ],
    ids=[
        "mirror",
        "crop_8_percent",
        "crop_10_percent_one_side",
        "border",
        "screenshot",
    ],
)
def test_region_hashes_repost_is_near_original(photo, repost):
    query = region_hashes(repost(photo), [])
    assert best_distance(query, region_hashes(photo, [])) <= 10
