"""Find the photo inside a screenshot, a border or a letterbox.

Reposts wrap the original photo in flat material: a coloured border, black letterbox
bars, or a phone app's chrome (status bar, header, caption text, buttons). Lines (rows
or columns) of that material are *flat*: most of their pixels sit close to one grey
level, even where a line of text crosses them.

The photo region is what is left after trimming flat lines from the four edges inwards,
in two passes:

1. borders and letterbox bars: lines that are uniform (nearly all pixels at the line's
   own median);
2. app chrome: rows whose pixels are mostly at the grey level of the outermost line on
   that side (the app's background), skipping short runs of text or icons between them.

Trimming only from the edges keeps flat stretches inside a photo in the region. Pass 2
also trims a photo's own edges when they match its edge colour (a white studio
background), in the original as in the repost; the hashes of the whole photo and of
this region are both kept, so a repost matches whichever the app chrome left intact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]

ANALYSIS_SIDE = 256
"""Longest side, in pixels, of the grey copy the analysis runs on."""

FLAT_TOLERANCE = 12
"""Grey levels from the reference level within which a pixel counts as flat (JPEG
noise on a uniform border stays within it)."""

MAX_TRIM_ROUNDS = 4
"""Rows then columns are trimmed in turn until the box stops changing, at most this
often."""

MIN_REGION_SHARE = 0.15
"""A region below this share of the image's area is not taken as the photo."""

MIN_TRIM_SHARE = 0.02
"""A region that trims less than this share from every side is the whole image."""


@dataclass(frozen=True)
class TrimRule:
    """Which edge lines one pass trims.

    ``flat_share``: share of a line's pixels that must be flat. ``text_share``: non-flat
    runs up to this share of the line length, with flat lines after them, are trimmed
    too (large text, icons); measured along the line, it scales with the photo in a
    screenshot. ``edge_level``: flat means close to the outermost line's median (the
    background), not to the line's own median. ``columns``: trim the left and right
    edges too, not only the top and bottom.
    """

    flat_share: float
    text_share: float
    edge_level: bool
    columns: bool


BORDER_RULE = TrimRule(flat_share=0.95, text_share=0.0, edge_level=False, columns=True)
CHROME_RULE = TrimRule(flat_share=0.7, text_share=0.06, edge_level=True, columns=False)
"""Apps show a post's photo across the screen's width: chrome is above and below."""


def find_photo_region(gray: Image.Image) -> Box | None:
    """Return the photo's box (x1, y1, x2, y2) inside ``gray``, in its pixels.

    ``gray`` is a mode ``L`` image. Returns None when the whole image is the photo (no
    border or chrome to trim) or when no convincing region is found.
    """
    scale = max(gray.size) / ANALYSIS_SIDE
    pixels = np.asarray(_analysis_copy(gray, scale), dtype=np.int16)

    whole = (0, 0, pixels.shape[1], pixels.shape[0])
    unbordered = _trim(pixels, whole, BORDER_RULE)
    if unbordered is None:
        return None
    box = _trim(pixels, unbordered, CHROME_RULE)
    if box is None or not _is_large_enough(box, pixels.shape):
        box = unbordered

    if not _is_large_enough(box, pixels.shape) or not _is_trimmed(box, pixels.shape):
        return None
    return _to_full_scale(box, scale, gray.size)


def _analysis_copy(gray: Image.Image, scale: float) -> Image.Image:
    if scale <= 1:
        return gray
    size = (max(1, round(gray.width / scale)), max(1, round(gray.height / scale)))
    return gray.resize(size, Image.Resampling.BILINEAR)


def _trim(pixels: np.ndarray, box: Box, rule: TrimRule) -> Box | None:
    """Trim flat rows and columns from the box's edges until none is left."""
    for _ in range(MAX_TRIM_ROUNDS):
        x1, y1, x2, y2 = box
        rows = _edge_trim(pixels[y1:y2, x1:x2], rule)
        if rows is None:
            return None
        y1, y2 = y1 + rows[0], y1 + rows[1]
        if not rule.columns:
            return (x1, y1, x2, y2)
        columns = _edge_trim(pixels[y1:y2, x1:x2].T, rule)
        if columns is None:
            return None
        trimmed = (x1 + columns[0], y1, x1 + columns[1], y2)
        if trimmed == box:
            break
        box = trimmed
    return box


def _edge_trim(lines: np.ndarray, rule: TrimRule) -> tuple[int, int] | None:
    """(start, stop) of the rows of ``lines`` left after trimming both ends."""
    max_text_run = int(rule.text_share * lines.shape[1])
    flat = _flat_lines(lines, rule)
    # Against each line's own level, flatness reads the same from either end.
    flat_from_end = _flat_lines(lines[::-1], rule) if rule.edge_level else flat[::-1]
    start = _chrome_depth(flat, max_text_run)
    stop = len(lines) - _chrome_depth(flat_from_end, max_text_run)
    if start >= stop:
        return None
    return start, stop


def _flat_lines(lines: np.ndarray, rule: TrimRule) -> np.ndarray:
    """Mark each row of ``lines`` that is mostly at the rule's reference level."""
    if rule.edge_level:
        levels = np.median(lines[0])
    else:
        levels = _line_medians(lines)
    close = np.abs(lines - levels) <= FLAT_TOLERANCE
    return close.mean(axis=1) >= rule.flat_share


def _line_medians(lines: np.ndarray) -> np.ndarray:
    """np.median of each row of ``lines`` as a column, by a stable sort: numpy sorts
    small integers (grey levels) by radix, three times as fast as np.median."""
    ordered = np.sort(lines, axis=1, kind="stable")
    middle = (lines.shape[1] - 1) // 2, lines.shape[1] // 2
    return (ordered[:, middle[0], None] + ordered[:, middle[1], None]) / 2


def _chrome_depth(flat: np.ndarray, max_text_run: int) -> int:
    """How many lines from the start of ``flat`` belong to the chrome."""
    depth = 0
    while depth < len(flat):
        flat_run = _run_length(flat, depth, True)
        text_run = _run_length(flat, depth + flat_run, False)
        ends_flat = depth + flat_run + text_run < len(flat)
        if text_run <= max_text_run and ends_flat:
            depth += flat_run + text_run
        else:
            return depth + flat_run
        if flat_run == 0 and text_run == 0:
            break
    return depth


def _run_length(flat: np.ndarray, start: int, value: bool) -> int:
    """Length of the run of ``value`` starting at ``start``."""
    differing = np.flatnonzero(flat[start:] != value)
    return int(differing[0]) if len(differing) else len(flat) - start


def _is_large_enough(box: Box, shape: tuple[int, ...]) -> bool:
    height, width = shape[:2]
    x1, y1, x2, y2 = box
    return (x2 - x1) * (y2 - y1) >= MIN_REGION_SHARE * width * height


def _is_trimmed(box: Box, shape: tuple[int, ...]) -> bool:
    height, width = shape[:2]
    x1, y1, x2, y2 = box
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
