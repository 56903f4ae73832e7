"""The photo region inside borders, letterboxes and phone screenshots."""

from __future__ import annotations

import pytest
from PIL import Image

from app.pipeline.regions import find_photo_region
from tests import reposts
from tests.factories import dataset_photos, scene


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A photo-like picture with texture up to every edge."""
    return scene(400, 300, seed=3)


def close_to(box, expected, tolerance: int) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(box, expected, strict=True))


def test_region_of_bordered_photo_is_inside_border(photo):
    framed = reposts.bordered(photo, share=0.1, color=(200, 30, 30))
    assert close_to(find_photo_region(framed.convert("L")), (40, 40, 440, 340), 3)


def test_region_of_letterboxed_photo_drops_bars(photo):
    boxed = reposts.letterboxed(photo, aspect=9 / 16)
    top = (boxed.height - 300) // 2
    assert close_to(find_photo_region(boxed.convert("L")), (0, top, 400, top + 300), 3)


@pytest.mark.parametrize("dark", [False, True])
def test_region_of_phone_screenshot_is_photo_between_chrome(photo, dark):
    screen = reposts.phone_screenshot(photo, dark=dark)
    x1, y1, x2, y2 = find_photo_region(screen.convert("L"))
    assert (x1, x2) == (0, reposts.SCREEN_WIDTH)
    assert close_to((y1, y2), (190, 190 + 540), 6)


def test_region_of_plain_photo_is_none(photo):
    assert find_photo_region(photo.convert("L")) is None


def test_region_of_uniform_picture_is_none():
    assert find_photo_region(Image.new("L", (300, 200), 128)) is None


def test_region_of_real_photo_with_flat_edge_is_same_with_border():
    path = dataset_photos("popular_animals_google", 1, seed=2)[0]
    real = Image.open(path).convert("RGB").resize((400, 300))
    own = find_photo_region(real.convert("L")) or (0, 0, 400, 300)
    framed = reposts.bordered(real, share=0.1, color=(20, 20, 20))
    shifted = tuple(value + 40 for value in own)
    assert close_to(find_photo_region(framed.convert("L")), shifted, 4)
