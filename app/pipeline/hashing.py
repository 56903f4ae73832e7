"""Perceptual hashes of a photo and of its meaningful regions.

Every hash is imagehash's pHash (DCT of a 32 x 32 grey copy, 8 x 8 low frequencies
against their median: 64 bits). Reposting changes a photo in ways a single whole-photo
pHash does not survive, so a photo gets one hash per *region*:

- ``photo``: the whole upright photo (the same value as :func:`photo_phash`);
- ``inner``: the photo found inside a border, letterbox or phone screenshot
  (see :mod:`app.pipeline.regions`);
- ``detection``: the crop of each detection box;
- ``corner``: the part of the photo (or of its inner region) flush with each of its
  four corners: a repost cropped by a few percent lines up with one of them, whichever
  sides the cut came from (earlier versions stored centre regions, kind ``center``);
- the mirror image of each of these (``mirrored=True``), so a flipped repost matches.

The index stores the unmirrored hashes only; a query uses all of them. pHash splits
the 64 coefficients at their median, so a hash has 32 bits set (barring ties) and the
distance between two hashes is even: thresholds 10 and 11 select the same matches.
Near-uniform or tiny photos and regions get no hash at all: their pHash is noise and
would match other blank pictures.

The hashes are computed here from the same 32 x 32 grey copy and the same DCT-II
values as imagehash's, bit for bit (``tests/pipeline/test_hashing.py`` checks this on
real photos), but with one DCT per region: a mirror image's DCT is the same with the
sign of every odd horizontal frequency flipped. Only the 8 x 8 low frequencies pHash
keeps are computed, as two products with a cosine matrix, which spares each server
process SciPy's 27 MB (imagehash runs SciPy's full 32 x 32 transform). The two agree on
every bit of the 7,872 hashes of 656 test photos' regions (values within 2e-16) and,
with rounding noise snapped to zero where SciPy gives exact zeros, on flat, striped,
gradient and one-pixel pictures (``tests/pipeline/test_hashing.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
import PIL
from PIL import Image

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

CORNER_SHARE = 0.92
"""Side share of the ``corner`` regions. A repost that cuts 3-10 % of the width and
height, split in any way between the two ends, lies within a few percent of one of
the four. Each region is another chance for an unrelated photo to come close, which
lowers the threshold a false-match rate of 1e-4 allows; on 600 dataset photos four
corners of 0.92 found all such crops where centres of 0.92 and 0.84 found 95 %, and a
centre or edge-anchored regions added to the corners found no more
(benchmarks/matching_robustness.py). At 0.90 the 3 % crops start to slip."""

CORNERS = ((0, 0), (1, 0), (0, 1), (1, 1))
"""The ``corner`` regions' anchors: (right, bottom) edge flags."""

REGION_KINDS = ("photo", "inner", "corner", "detection")

PHASH_SIDE = HASH_SIZE * 4
"""Side of the grey copy pHash takes its DCT of (imagehash's highfreq_factor 4)."""

_PHASH_FILTER = Image.Resampling.LANCZOS
"""The filter imagehash's pHash resizes with (its ANTIALIAS)."""

_DCT_LOW = 2 * np.cos(
    np.pi
    * np.arange(HASH_SIZE)[:, None]
    * (2 * np.arange(PHASH_SIDE) + 1)
    / (2 * PHASH_SIDE)
)
"""Rows of the unnormalised DCT-II (SciPy's default) for the ``HASH_SIZE`` lowest
frequencies of ``PHASH_SIDE`` samples."""

_ROUNDING_NOISE = 1e-9
"""Share of the DC coefficient under which a coefficient counts as an exact zero."""

_MIRROR_SIGNS = np.where(np.arange(HASH_SIZE) % 2 == 1, -1.0, 1.0)
"""DCT-II of a reversed row: frequency k changes sign when k is odd."""

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
    value, _ = _phash_values(_phash_input(_working_gray(image)))
    return f"{value:016x}"


def photo_hashes(
    image: Image.Image, boxes: Sequence[BoxF]
) -> tuple[str, list[RegionHash]]:
    """:func:`photo_phash` and :func:`region_hashes` of one photo, the whole-photo
    hash taken from the ``photo`` region when it has one rather than computed twice."""
    hashes = region_hashes(image, boxes)
    whole = next((h for h in hashes if h.kind == "photo" and not h.mirrored), None)
    return (whole.hex if whole else photo_phash(image)), hashes


def region_hashes(image: Image.Image, boxes: Sequence[BoxF]) -> list[RegionHash]:
    """Hash the photo's meaningful regions and their mirror images.

    ``boxes`` are detection boxes (x1, y1, x2, y2) in ``image``'s pixels. Returns an
    empty list for a near-uniform or tiny photo; near-uniform or tiny regions are left
    out. Duplicate (kind-independent) hash values of the same orientation are kept once.
    """
    gray = _working_gray(image)
    scale = gray.width / image.width
    regions = [
        (kind, box)
        for kind, box in _regions(gray, boxes, scale)
        if min(box[2] - box[0], box[3] - box[1]) >= MIN_REGION_SIDE
    ]
    inputs = [_phash_input(gray.crop(box)) for _, box in regions]
    hashes: list[RegionHash] = []
    seen: set[tuple[int, bool]] = set()
    for (kind, box), pixels in zip(regions, inputs, strict=True):
        if not _is_hashable(pixels):
            continue
        full_box = _to_photo_pixels(box, scale, image.size)
        for mirrored, value in zip((False, True), _phash_values(pixels), strict=True):
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
    for anchor in CORNERS:
        yield "corner", _corner(inner or whole, CORNER_SHARE, anchor)
    for box in boxes:
        yield "detection", _to_working_pixels(box, scale, gray.size)


def _corner(
    box: tuple[int, int, int, int], share: float, anchor: tuple[int, int]
) -> tuple[int, int, int, int]:
    """``share`` of the box's sides, flush with the corner ``anchor`` names."""
    x1, y1, x2, y2 = box
    cut_x = round((x2 - x1) * (1 - share))
    cut_y = round((y2 - y1) * (1 - share))
    right, bottom = anchor
    x1, x2 = (x1 + cut_x, x2) if right else (x1, x2 - cut_x)
    y1, y2 = (y1 + cut_y, y2) if bottom else (y1, y2 - cut_y)
    return (x1, y1, x2, y2)


def _working_gray(image: Image.Image) -> Image.Image:
    gray = image.convert("L")
    factor = max(gray.size) // WORKING_SIDE
    if factor >= 2:
        gray = gray.reduce(factor)
    return gray


def _phash_input(crop: Image.Image) -> np.ndarray:
    """The 32 x 32 grey pixels pHash itself makes of the crop (same filter)."""
    size = (PHASH_SIDE, PHASH_SIDE)
    return np.asarray(crop.resize(size, _PHASH_FILTER))


def _is_hashable(pixels: np.ndarray) -> bool:
    return float(pixels.astype(np.float32).std()) >= MIN_GREY_SPREAD


def _phash_values(pixels: np.ndarray) -> tuple[int, int]:
    """imagehash.phash of the 32 x 32 ``pixels`` and of their mirror image, as
    integers, from one DCT (imagehash's values for the low frequencies)."""
    low = _DCT_LOW @ pixels.astype(np.float64) @ _DCT_LOW.T
    # Where the picture is constant along its rows or columns SciPy's transform gives
    # exact zeros; the products leave rounding noise there (about 1e-13 of the DC
    # term), which the median split would turn into bits. Snap it to zero.
    low[np.abs(low) <= _ROUNDING_NOISE * max(abs(low[0, 0]), 1.0)] = 0.0
    return _bits_over_median(low), _bits_over_median(low * _MIRROR_SIGNS)


def _bits_over_median(coefficients: np.ndarray) -> int:
    """The coefficients above their median as bits, the first the most significant
    (the order of imagehash's hex string)."""
    ordered = np.sort(coefficients, axis=None)
    middle = len(ordered) // 2
    median = (ordered[middle - 1] + ordered[middle]) / 2  # np.median's, cheaper
    above = coefficients > median
    return int.from_bytes(np.packbits(above).tobytes(), "big")


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
