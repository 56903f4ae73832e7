"""Photo bytes -> one upright RGB image: the single decode path of the service.

Every photo is decoded once here, and the same pixels go to the detector and the hasher.

The type comes from the bytes (magic numbers), never from the file name or the
client's Content-Type. Accepted: JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC/HEIF and AVIF.
Refused with UnsupportedMediaType: SVG and other vector or unknown formats.

Normalisation to RGB, one rule for every mode:

- EXIF Orientation 2-8 is applied, so pixels and boxes are those of the upright photo;
  an unreadable EXIF block counts as Orientation 1 (and is logged).
- Transparency (RGBA, LA, PA, palette with tRNS) is composited onto opaque white
  (``BACKGROUND``), so hidden colours under alpha 0 never reach the model or the hash.
- Samples deeper than 8 bits (16-bit PNG, "I;16", "I") are scaled by 255/65535.
- CMYK (Adobe-inverted or not, as Pillow reads it) and every other mode go through
  Pillow's conversion to RGB.

Animated photos (GIF, WebP, APNG): the first frame whose pixels are not uniform is
scored (a blank leading frame is skipped); ``frame_count`` and ``frame_index`` say how
many frames there were and which one was used. Only ``Settings.max_frames`` frames
are examined.

Truncated JPEGs: a JPEG whose data ends early is refused as corrupt. One that lacks
only its end-of-image marker (which browsers display in full) is accepted: the marker
is added and the photo decodes completely.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

from app.errors import CorruptPhoto, EmptyPhoto, PhotoOverLimit
from app.pipeline.media_type import format_name, sniff_media_type

logger = logging.getLogger(__name__)

pillow_heif.register_heif_opener()

# Satwa checks the pixel count itself (SATWA_MAX_PIXELS) right after reading the
# header, before any pixel is allocated; Pillow's process-wide bomb check would only
# duplicate it with a warning or a different error.
Image.MAX_IMAGE_PIXELS = None

BACKGROUND = (255, 255, 255)
"""The one colour transparent pixels are flattened onto."""

MIN_CONTENT_SPREAD = 1.0
"""Grey standard deviation below which a frame counts as blank."""

_JPEG_END = b"\xff\xd9"
_DECODER_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    IndexError,
    EOFError,
    RuntimeError,
    struct.error,
    zlib.error,
)
"""What Pillow and its format plugins (AVIF, HEIF) raise on damaged files."""
_PILLOW_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/heic": "HEIF",
    "image/avif": "AVIF",
}


@dataclass(frozen=True)
class DecodedPhoto:
    """An upright RGB photo and what its bytes were."""

    image: Image.Image
    media_type: str
    width: int
    height: int
    frame_count: int
    frame_index: int


def decode_photo(data: bytes, *, max_pixels: int, max_frames: int) -> DecodedPhoto:
    """Decode ``data`` to an upright RGB image, or raise a PhotoRejected subclass."""
    if not data:
        raise EmptyPhoto("Photo is an empty file (0 bytes); expected image bytes")
    media_type = sniff_media_type(data)
    try:
        return _decode(data, media_type, max_pixels, max_frames)
    except CorruptPhoto:
        if media_type == "image/jpeg" and not data.endswith(_JPEG_END):
            return _decode_without_end_marker(data, max_pixels, max_frames)
        raise


def _decode(
    data: bytes, media_type: str, max_pixels: int, max_frames: int
) -> DecodedPhoto:
    try:
        with _open(data, media_type) as opened:
            _check_pixels(opened, max_pixels)
            orientation = _orientation(opened)
            frame_count = getattr(opened, "n_frames", 1)
            frame_index, rgb = _content_frame(
                opened, min(frame_count, max_frames), max_pixels
            )
    except _DECODER_ERRORS as error:
        raise _truncated(error) from error
    upright = _transpose(rgb, orientation)
    return DecodedPhoto(
        upright, media_type, upright.width, upright.height, frame_count, frame_index
    )


def _decode_without_end_marker(
    data: bytes, max_pixels: int, max_frames: int
) -> DecodedPhoto:
    decoded = _decode(data + _JPEG_END, "image/jpeg", max_pixels, max_frames)
    # libjpeg fills the rows it has no data for with one flat colour; a photo whose
    # last row is perfectly flat after adding the marker was cut short, not just
    # missing its marker. Limitation: a genuine photo with a perfectly flat last row
    # and a missing marker is refused too.
    last_row = np.asarray(decoded.image)[-1]
    if (last_row == last_row[0]).all():
        raise _truncated()
    logger.info("Accepted a JPEG without its end-of-image marker")
    return decoded


def _open(data: bytes, media_type: str) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[media_type]])
    except UnidentifiedImageError as error:
        raise CorruptPhoto(
            f"Photo bytes are {format_name(media_type)} by their signature, but the "
            "file cannot be decoded; expected a complete, uncorrupted image file"
        ) from error


def _check_pixels(opened: Image.Image, max_pixels: int, frame: int = 0) -> None:
    width, height = opened.size
    if width * height > max_pixels:
        where = f"Photo frame/page {frame + 1}" if frame else "Photo"
        raise PhotoOverLimit(
            f"{where} has {width * height:,} pixels ({width} x {height})",
            setting="SATWA_MAX_PIXELS",
            limit=max_pixels,
            got=width * height,
        )


def _orientation(opened: Image.Image) -> int:
    try:
        return int(opened.getexif().get(0x0112, 1))
    # UserWarning: Pillow warns about corrupt EXIF, an error where warnings are errors.
    except (
        OSError,
        SyntaxError,
        ValueError,
        TypeError,
        KeyError,
        UserWarning,
    ) as error:
        logger.warning("Unreadable EXIF block, treated as upright: %s", error)
        return 1


def _transpose(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _content_frame(
    opened: Image.Image, frames: int, max_pixels: int
) -> tuple[int, Image.Image]:
    first: Image.Image | None = None
    decoded_pixels = 0
    for index in range(max(frames, 1)):
        if index:
            # Each TIFF page (and some animation frames) has its own size: check it
            # before its pixels are allocated, not only the first one's.
            opened.seek(index)
            _check_pixels(opened, max_pixels, index)
            if decoded_pixels + opened.width * opened.height > max_pixels:
                break  # the frames examined together stay within SATWA_MAX_PIXELS
        opened.load()
        rgb = to_rgb(opened)
        decoded_pixels += rgb.width * rgb.height
        if frames <= 1 or _has_content(rgb):  # a still photo is its own answer
            return index, rgb
        first = first or rgb
    assert first is not None
    return 0, first


def _truncated(error: Exception | None = None) -> CorruptPhoto:
    detail = f" ({error})" if error else ""
    return CorruptPhoto(
        f"Photo is truncated or corrupt{detail}; expected a complete image file, "
        "re-download the original"
    )


def _has_content(rgb: Image.Image) -> bool:
    grey = rgb.convert("L")
    grey.thumbnail((256, 256))
    return float(np.asarray(grey, dtype=np.float32).std()) >= MIN_CONTENT_SPREAD


def to_rgb(image: Image.Image) -> Image.Image:
    """Normalise any Pillow mode to 8-bit RGB by the rule in the module docstring."""
    if image.mode == "RGB":
        return image.copy()
    if image.mode == "I" or image.mode.startswith("I;16"):
        return _scale_deep_samples(image)
    if _has_alpha(image):
        return _flatten(image.convert("RGBA"))
    return image.convert("RGB")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        "transparency" in image.info
    )


def _flatten(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _scale_deep_samples(image: Image.Image) -> Image.Image:
    samples = np.asarray(image, dtype=np.float64)
    eight_bit = np.clip(np.rint(samples * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
    return Image.fromarray(eight_bit).convert("RGB")
