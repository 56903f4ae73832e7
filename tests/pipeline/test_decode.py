"""The single decode path against ../shared/bad-inputs (CASES.md) and made photos."""

from __future__ import annotations

import contextlib
import io
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from app.errors import (
    CorruptPhoto,
    EmptyPhoto,
    PhotoOverLimit,
    PhotoRejected,
    UnsupportedMediaType,
)
from app.pipeline.decode import BACKGROUND, decode_photo, to_rgb
from app.pipeline.hashing import photo_phash
from tests.factories import (
    BAD_INPUTS,
    bad_input,
    bad_input_name,
    encode,
    jpeg_with_orientation,
    scene,
)

LIMITS = {"max_pixels": 40_000_000, "max_frames": 50}


def decode(data: bytes):
    return decode_photo(data, **LIMITS)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def phash_distance(first: Image.Image, second: Image.Image) -> int:
    return (int(photo_phash(first), 16) ^ int(photo_phash(second), 16)).bit_count()


@pytest.mark.parametrize("case", ["01a", "01b"])
def test_decode_exif_orientation_6_gives_upright_reference(case):
    reference = decode(bad_input("01c")).image
    upright = decode(bad_input(case)).image
    assert upright.size == reference.size == (160, 120)
    assert np.abs(pixels(upright) - pixels(reference)).mean() < 6
    assert phash_distance(upright, reference) <= 4


@pytest.mark.parametrize("orientation", range(1, 9))
def test_decode_every_exif_orientation_gives_upright_photo(orientation):
    original = scene(200, 120, seed=orientation)
    decoded = decode(jpeg_with_orientation(original, orientation)).image
    assert decoded.size == original.size
    error = np.abs(pixels(decoded) - pixels(original)).mean()
    for wrong in (
        Image.Transpose.FLIP_LEFT_RIGHT,
        Image.Transpose.ROTATE_180,
        Image.Transpose.FLIP_TOP_BOTTOM,
    ):
        assert (
            error
            < np.abs(pixels(decoded.transpose(wrong)) - pixels(original)).mean() / 2
        )


def test_decode_grey_jpeg_with_orientation_is_upright_rgb():
    decoded = decode(bad_input("02"))
    assert (decoded.width, decoded.height) == (160, 120)
    assert decoded.image.mode == "RGB"


def test_decode_cmyk_jpeg_matches_rgb_original_colours():
    cmyk = decode(bad_input("04")).image
    reference = decode(bad_input("01c")).image
    assert np.abs(pixels(cmyk) - pixels(reference)).mean() < 12


def test_decode_16_bit_grey_is_scaled_not_clipped():
    decoded = decode(bad_input("06")).image
    grey = pixels(decoded)[..., 0]
    source = np.asarray(Image.open(BAD_INPUTS / bad_input_name("06")), dtype=np.float64)
    assert np.abs(grey - source * 255 / 65535).max() <= 1
    assert grey.max() - grey.min() > 200
    assert (grey == 255).mean() < 0.05


@pytest.mark.parametrize("case", ["07", "08", "09", "34"])
def test_decode_transparent_pixels_are_flattened_onto_background(case):
    source = Image.open(BAD_INPUTS / bad_input_name(case)).convert("RGBA")
    transparent = np.asarray(source)[..., 3] == 0
    assert transparent.any()
    decoded = np.asarray(decode(bad_input(case)).image)
    assert (decoded[transparent] == BACKGROUND).all()


def test_decode_hidden_colours_under_alpha_never_change_the_hash():
    source = Image.open(BAD_INPUTS / bad_input_name("09")).convert("RGBA")
    rgba = np.asarray(source).copy()
    rgba[rgba[..., 3] == 0, :3] = 0
    cleaned = encode(Image.fromarray(rgba), "PNG")
    assert photo_phash(decode(bad_input("09")).image) == photo_phash(
        decode(cleaned).image
    )


def test_decode_jpeg_cut_in_half_is_refused_as_truncated():
    with pytest.raises(CorruptPhoto, match="truncated or corrupt"):
        decode(bad_input("10a"))


def test_decode_jpeg_missing_only_its_end_marker_is_accepted_whole():
    decoded = decode(bad_input("10b"))
    assert (decoded.width, decoded.height) == (640, 480)
    last_rows = pixels(decoded.image)[-16:]
    assert last_rows.std() > 5


def test_decode_animated_gif_skips_blank_first_frame():
    decoded = decode(bad_input("12"))
    assert decoded.frame_count == 3
    assert decoded.frame_index >= 1
    assert pixels(decoded.image).std() > 5


def _animated_gif(frames: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("max_pixels", "frame_index"), [(10 * 400 * 300, 5), (3 * 400 * 300, 0)]
)
def test_decode_animated_gif_frames_examined_stay_within_pixel_limit(
    max_pixels, frame_index
):
    # Distinct frames (GIF writers merge identical ones): five blank, three not.
    blanks = [Image.new("RGB", (400, 300), (40 + 8 * n,) * 3) for n in range(5)]
    content = [
        Image.effect_noise((400, 300), 40 + 10 * n).convert("RGB") for n in range(3)
    ]
    data = _animated_gif(blanks + content)

    decoded = decode_photo(data, max_pixels=max_pixels, max_frames=50)

    assert decoded.frame_count == 8
    assert decoded.frame_index == frame_index


def test_decode_animated_webp_reports_frames_and_scores_content():
    decoded = decode(bad_input("13"))
    assert decoded.frame_count == 2
    assert pixels(decoded.image).std() > 5


def test_decode_heic_stub_is_recognised_by_content_not_name():
    with pytest.raises(CorruptPhoto, match="HEIC"):
        decode(bad_input("15"))


def test_decode_avif_is_accepted():
    decoded = decode(bad_input("16"))
    assert decoded.media_type == "image/avif"
    assert (decoded.width, decoded.height) == (96, 64)


@pytest.mark.parametrize(
    ("case", "pixels_text"), [("17a", "100,000,000"), ("17b", "400,000,000")]
)
def test_decode_pixel_bomb_is_refused_naming_count_and_limit(case, pixels_text):
    with pytest.raises(PhotoOverLimit) as raised:
        decode(bad_input(case))
    assert pixels_text in raised.value.message
    assert "SATWA_MAX_PIXELS" in raised.value.message
    assert raised.value.limit == LIMITS["max_pixels"]


def test_decode_pixel_bomb_is_refused_before_pixels_are_allocated():
    # Under an address-space limit 32 MB above the interpreter's, decoding the
    # 400-megapixel bomb (50 MB even as 1-bit pixels) would fail with MemoryError.
    script = f"""
import resource
from app.pipeline.decode import decode_photo
from app.errors import PhotoOverLimit
data = open({str(BAD_INPUTS / bad_input_name("17b"))!r}, "rb").read()
size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + 32 * 2**20, resource.RLIM_INFINITY))
try:
    decode_photo(data, max_pixels=40_000_000, max_frames=50)
except PhotoOverLimit:
    print("refused")
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.strip() == "refused", result.stderr


def test_decode_empty_file_is_refused_as_empty():
    with pytest.raises(EmptyPhoto, match="empty file"):
        decode(bad_input("18"))


@pytest.mark.parametrize(
    ("case", "media_type"), [("19a", "image/png"), ("19b", "image/webp")]
)
def test_decode_type_comes_from_bytes_not_name(case, media_type):
    assert decode(bad_input(case)).media_type == media_type


@pytest.mark.parametrize("case", ["20a", "20b"])
def test_decode_svg_is_refused_as_vector(case):
    with pytest.raises(UnsupportedMediaType, match="SVG") as raised:
        decode(bad_input(case))
    assert raised.value.media_type == "image/svg+xml"


@pytest.mark.parametrize("case", ["26", "27"])
def test_decode_tiny_photos_decode(case):
    decoded = decode(bad_input(case))
    assert decoded.width >= 1 and decoded.height >= 1


def test_decode_stored_rotated_photo_hashes_like_upright_one():
    upright = decode(bad_input("32a")).image
    rotated = decode(bad_input("32b")).image
    assert rotated.size == upright.size
    assert phash_distance(upright, rotated) <= 2


def test_decode_single_channel_equals_its_rgb_equivalent():
    grey = decode(bad_input("33")).image
    rgb = Image.open(BAD_INPUTS / bad_input_name("33")).convert("RGB")
    assert np.array_equal(np.asarray(grey), np.asarray(rgb))


def test_decode_keeps_red_red_and_blue_blue():
    decoded = np.asarray(decode(bad_input("36")).image)
    centre = decoded[decoded.shape[0] // 2, decoded.shape[1] // 2]
    corner = decoded[2, 2]
    assert centre[0] > 200 and centre[2] < 50
    assert corner[2] > 200 and corner[0] < 50


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I"])
def test_to_rgb_any_mode_gives_8_bit_rgb(mode):
    assert to_rgb(scene(64, 48).convert(mode)).mode == "RGB"


@pytest.mark.parametrize(
    "exif",
    [
        b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00",
    ],
)
def test_decode_malformed_exif_counts_as_upright(exif):
    original = scene(120, 80)
    with pytest.warns(UserWarning, match="Corrupt EXIF"):
        decoded = decode(encode(original, "JPEG", quality=95, exif=exif))
    assert decoded.image.size == original.size


def test_decode_orientation_out_of_range_is_ignored():
    exif = Image.Exif()
    exif[0x0112] = 9
    decoded = decode(encode(scene(120, 80), "JPEG", exif=exif.tobytes()))
    assert decoded.image.size == (120, 80)


@pytest.mark.parametrize(
    "case", ["01a", "01b", "04", "06", "07", "08", "12", "13", "16", "19b", "33"]
)
def test_decode_damaged_photo_is_scored_or_refused_never_crashes(case):
    rng = random.Random(case)
    data = bad_input(case)
    damaged = [data[: int(len(data) * share)] for share in (0.05, 0.3, 0.5, 0.9, 0.99)]
    for _ in range(20):
        copy = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            copy[rng.randrange(len(copy))] = rng.randrange(256)
        damaged.append(bytes(copy))
    for variant in damaged:
        with contextlib.suppress(PhotoRejected), warnings.catch_warnings():
            # Pillow warns about some damage it works around; still a defined answer.
            warnings.simplefilter("ignore")
            decode(variant)
