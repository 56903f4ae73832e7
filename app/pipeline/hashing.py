"""Perceptual hashes of a photo and of its meaningful regions.

Every hash is imagehash's pHash (DCT of a 32 x 32 grey copy, 8 x 8 low frequencies
against their median: 64 bits). Reposting changes a photo in ways a single whole-photo
pHash does not survive, so a photo gets one hash per *region*:

- ``photo``: the whole upright photo (the same value as :func:`photo_phash`);
- ``inner``: the photo found inside a border, letterbox or phone screenshot
  (see :mod:`app.pipeline.regions`);
- ``detection``: the crop of each detection box;
- ``center``: the central part of the photo, which a repost cropped by a few percent
  on each side still contains;
- the mirror image of each of these (``mirrored=True``), so a flipped repost matches.

The index stores the unmirrored hashes only; a query uses all of them. pHash splits
the 64 coefficients at their median, so a hash has 32 bits set (barring ties) and the
distance between two hashes is even: thresholds 12 and 13 select the same matches. Near-uniform or
tiny photos and regions get no hash at all: their pHash is noise and would match other
blank pictures.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
import PIL
from PIL import Image, ImageOps

from app.pipeline.regions import find_photo_region

ALGORITHM = "phash"
HASH_SIZE = 8
HASH_LIBRARY = f"imagehash {imagehash.__version__}; Pillow {PIL.__version__}"
"""Library versions recorded with every hash: a new version may change hash values."""

WORKING_SIDE = 1024
"""Longest side of the grey working copy all hashes are taken from (speed; a pHash only
looks at 32 x 32 pixels)."""

MIN_REGION_SIDE = 32
"""Regions smaller than the pHash's own 32 x 32 input are not hashed."""

MIN_GREY_SPREAD = 6.0
"""Standard deviation of the 32 x 32 grey copy below which a region is near-uniform."""

CENTER_SHARES = (0.92, 0.84)
"""Side shares of the ``center`` regions: a crop of a few percent per side (8 % in all)
still holds the 0.92 one, up to 16 % the 0.84 one."""

REGION_KINDS = ("photo", "inner", "center", "detection")

BoxF = tuple[float, float, float, float]


@dataclass(frozen=True)
class RegionHash:
    """One perceptual hash of one region of a photo.

    ``value`` is the 64-bit hash as an unsigned integer (bit order of imagehash's hex
    string). ``box`` is the region in the upright photo's pixels.
    """

    kind: str
    value: int
    mirrored: bool = False
    box: tuple[int, int, int, int] | None = None
    algorithm: str = ALGORITHM
    hash_size: int = HASH_SIZE
    library: str = HASH_LIBRARY

    @property
    def hex(self) -> str:
        return f"{self.value:016x}"


def photo_phash(image: Image.Image) -> str:
    """The whole upright photo's pHash as 16 hex digits (no uniformity filter)."""
    gray = _working_gray(image)
    return f"{_phash_value(gray):016x}"


def region_hashes(image: Image.Image, boxes: Sequence[BoxF]) -> list[RegionHash]:
    """Hash the photo's meaningful regions and their mirror images.

    ``boxes`` are detection boxes (x1, y1, x2, y2) in ``image``'s pixels. Returns an
    empty list for a near-uniform or tiny photo; near-uniform or tiny regions are left
    out. Duplicate (kind-independent) hash values of the same orientation are kept once.
    """
    gray = _working_gray(image)
    scale = gray.width / image.width
    hashes: list[RegionHash] = []
    seen: set[tuple[int, bool]] = set()
    for kind, box in _regions(gray, boxes, scale):
        if min(box[2] - box[0], box[3] - box[1]) < MIN_REGION_SIDE:
            continue
        thumbnail = _phash_input(gray.crop(box))
        if not _is_hashable(thumbnail):
            continue
        full_box = _to_photo_pixels(box, scale, image.size)
        for mirrored, view in ((False, thumbnail), (True, ImageOps.mirror(thumbnail))):
            value = _phash_value(view)
            if (value, mirrored) not in seen:
                seen.add((value, mirrored))
                hashes.append(RegionHash(kind, value, mirrored, full_box))
    return hashes


def _regions(
    gray: Image.Image, boxes: Sequence[BoxF], scale: float
) -> Iterator[tuple[str, tuple[int, int, int, int]]]:
    whole = (0, 0, gray.width, gray.height)
    yield "photo", whole
    inner = find_photo_region(gray)
    if inner is not None:
        yield "inner", inner
    for share in CENTER_SHARES:
        yield "center", _center(inner or whole, share)
    for box in boxes:
        yield "detection", _to_working_pixels(box, scale, gray.size)


def _center(box: tuple[int, int, int, int], share: float) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    margin_x = round((x2 - x1) * (1 - share) / 2)
    margin_y = round((y2 - y1) * (1 - share) / 2)
    return (x1 + margin_x, y1 + margin_y, x2 - margin_x, y2 - margin_y)


def _working_gray(image: Image.Image) -> Image.Image:
    gray = image.convert("L")
    factor = max(gray.size) // WORKING_SIDE
    if factor >= 2:
        gray = gray.reduce(factor)
    return gray


def _phash_input(crop: Image.Image) -> Image.Image:
    """The 32 x 32 copy pHash itself makes (same filter), made once per region: pHash
    of it equals pHash of the crop, and mirroring it equals resizing the mirror."""
    side = HASH_SIZE * 4
    return crop.resize((side, side), Image.Resampling.LANCZOS)


def _is_hashable(thumbnail: Image.Image) -> bool:
    return float(np.asarray(thumbnail, dtype=np.float32).std()) >= MIN_GREY_SPREAD


def _phash_value(gray: Image.Image) -> int:
    return int(str(imagehash.phash(gray, hash_size=HASH_SIZE)), 16)


def _to_working_pixels(
    box: BoxF, scale: float, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    width, height = size
    x1, y1, x2, y2 = (round(value * scale) for value in box)
    return (max(0, x1), max(0, y1), min(width, x2), min(height, y2))


def _to_photo_pixels(
    box: tuple[int, int, int, int], scale: float, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    width, height = size
    x1, y1, x2, y2 = (round(value / scale) for value in box)
    return (max(0, x1), max(0, y1), min(width, x2), min(height, y2))
