"""Find the photo inside a screenshot, a border or a letterbox.

Reposts wrap the original photo in flat material: a coloured border, black letterbox
bars, or a phone app's chrome (status bar, header, caption text, buttons). Rows and
columns of that material are *flat*: most of their pixels sit close to the row's own
median grey level, even where a line of text crosses them. Rows and columns of a photo
are not. The photo region is the longest run of non-flat rows, then, inside that band,
the longest run of non-flat columns.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]

ANALYSIS_SIDE = 256
"""Longest side, in pixels, of the grey copy the analysis runs on."""

FLAT_TOLERANCE = 12
"""Grey levels from the line's median within which a pixel counts as flat."""

FLAT_SHARE = 0.6
"""A line with at least this share of flat pixels is border or chrome, not photo."""

GAP_SHARE = 0.03
"""Flat stretches up to this share of the side are bridged (a dark band in a photo)."""

MIN_REGION_SHARE = 0.15
"""A region below this share of the image's area is not taken as the photo."""

MIN_TRIM_SHARE = 0.02
"""A region that trims less than this share from every side is the whole image."""


def find_photo_region(gray: Image.Image) -> Box | None:
    """Return the photo's box (x1, y1, x2, y2) inside ``gray``, in its pixels.

    ``gray`` is a mode ``L`` image. Returns None when the whole image is the photo (no
    border or chrome to trim) or when no convincing region is found.
    """
    scale = max(gray.size) / ANALYSIS_SIDE
    small = _analysis_copy(gray, scale)
    pixels = np.asarray(small, dtype=np.int16)

    rows = _longest_photo_run(_flat_lines(pixels))
    if rows is None:
        return None
    band = pixels[rows[0] : rows[1]]
    columns = _longest_photo_run(_flat_lines(band.T))
    if columns is None:
        return None

    box = (columns[0], rows[0], columns[1], rows[1])
    if not _is_trimmed_region(box, pixels.shape):
        return None
    return _to_full_scale(box, scale, gray.size)


def _analysis_copy(gray: Image.Image, scale: float) -> Image.Image:
    if scale <= 1:
        return gray
    size = (max(1, round(gray.width / scale)), max(1, round(gray.height / scale)))
    return gray.resize(size, Image.Resampling.BILINEAR)


def _flat_lines(pixels: np.ndarray) -> np.ndarray:
    """Mark each row of ``pixels`` that is mostly one grey level."""
    medians = np.median(pixels, axis=1, keepdims=True)
    close = np.abs(pixels - medians) <= FLAT_TOLERANCE
    return close.mean(axis=1) >= FLAT_SHARE


def _longest_photo_run(flat: np.ndarray) -> tuple[int, int] | None:
    """Longest run of non-flat lines, bridging short flat gaps; (start, stop)."""
    max_gap = max(1, int(len(flat) * GAP_SHARE))
    best: tuple[int, int] | None = None
    start = last = None
    for index in np.flatnonzero(~flat):
        if start is None or index - last > max_gap + 1:
            start = index
        last = index
        if best is None or last + 1 - start > best[1] - best[0]:
            best = (int(start), int(last) + 1)
    return best


def _is_trimmed_region(box: Box, shape: tuple[int, ...]) -> bool:
    height, width = shape[:2]
    x1, y1, x2, y2 = box
    if (x2 - x1) * (y2 - y1) < MIN_REGION_SHARE * width * height:
        return False
    trims = (x1 / width, y1 / height, (width - x2) / width, (height - y2) / height)
    return max(trims) >= MIN_TRIM_SHARE


def _to_full_scale(box: Box, scale: float, size: tuple[int, int]) -> Box:
    if scale <= 1:
        return box
    width, height = size
    x1, y1, x2, y2 = box
    return (
        max(0, int(x1 * scale)),
        max(0, int(y1 * scale)),
        min(width, round(x2 * scale)),
        min(height, round(y2 * scale)),
    )
