"""The square crops the second stage classifies (app.pipeline.crops)."""

from __future__ import annotations

import pytest
from PIL import Image

from app.pipeline.crops import square_crop
from tests.factories import run_python


def test_square_crop_wide_box_pads_grey_above_and_below():
    photo = Image.new("RGB", (400, 100), (255, 0, 0))

    crop = square_crop(photo, (0.0, 0.0, 400.0, 100.0), margin=0.0)

    assert crop.size == (224, 224)
    assert crop.getpixel((112, 5)) == (128, 128, 128)
    assert crop.getpixel((112, 112)) == (255, 0, 0)


def test_square_crop_box_at_corner_is_grey_outside_photo():
    photo = Image.new("RGB", (100, 100), (0, 0, 255))

    crop = square_crop(photo, (0.0, 0.0, 20.0, 20.0), margin=0.5)

    assert crop.getpixel((5, 5)) == (128, 128, 128)
    assert crop.getpixel((200, 200)) == (0, 0, 255)


@pytest.mark.parametrize("size", [(65500, 2), (2, 65500)])
def test_square_crop_long_thin_photo_stays_within_2_gb(size):
    # The square around a 65,500-pixel-long box is 78,600 pixels wide: cut at full
    # resolution its grey canvas alone would take 18 GB.
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from PIL import Image\n"
        "from app.pipeline.crops import square_crop, whole_photo_box\n"
        f"photo = Image.new('RGB', {size}, (120, 80, 40))\n"
        "crop = square_crop(photo, whole_photo_box(photo))\n"
        "print(crop.size)\n"
    )
    finished = run_python(script)

    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip() == "(224, 224)"
