"""The square crops the second stage classifies, as one normalised batch.

A detection's box is widened, made square around its centre (grey where it leaves the
photo, so the animal keeps its shape) and scaled to the network's 224 px input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from app.pipeline.detect import Box
from app.pipeline.imagenet import INPUT_SIZE, MEAN, STD

CROP_MARGIN = 0.1
"""Context added around a box on each side, as a share of its longer side."""

MAX_CROP_SIDE = 2048
"""Widest square (pixels) cut at full resolution before shrinking to 224 (memory)."""

_GREY = tuple(round(value * 255) for value in MEAN)
_PIXEL_SCALE = (1 / (255 * np.array(STD, np.float32)))[:, None, None]
_PIXEL_OFFSET = (-np.array(MEAN, np.float32) / np.array(STD, np.float32))[:, None, None]


def square_crop(
    image: Image.Image, box: Box, margin: float = CROP_MARGIN
) -> Image.Image:
    """The box widened by ``margin``, made square around its centre, at 224 px.

    Parts of the square outside the photo are grey (the network's input mean), so the
    animal keeps its shape whatever the box's aspect ratio. A square wider than
    ``MAX_CROP_SIDE`` is cut from a copy of the photo shrunk by a whole factor first:
    the grey canvas of a long thin photo's square would otherwise take gigabytes.
    """
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1, 1.0) * (1 + 2 * margin)
    factor = math.ceil(side / MAX_CROP_SIDE)
    if factor > 1:
        shrunk = image.reduce(factor)
        return square_crop(
            shrunk, tuple(value / factor for value in box), margin=margin
        )
    left, top = (x1 + x2 - side) / 2, (y1 + y2 - side) / 2
    square = (round(left), round(top), round(left + side), round(top + side))
    inside = (
        max(square[0], 0),
        max(square[1], 0),
        min(square[2], image.width),
        min(square[3], image.height),
    )
    canvas = Image.new("RGB", (square[2] - square[0], square[3] - square[1]), _GREY)
    if inside[2] > inside[0] and inside[3] > inside[1]:
        canvas.paste(image.crop(inside), (inside[0] - square[0], inside[1] - square[1]))
    return canvas.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)


def crops_batch(image: Image.Image, boxes: Sequence[Box]) -> np.ndarray:
    """The square crops of ``boxes`` as one normalised (N, 3, 224, 224) float32
    batch."""
    pixels = np.stack([np.asarray(square_crop(image, box)) for box in boxes])
    batch = pixels.transpose(0, 3, 1, 2).astype(np.float32)
    batch *= _PIXEL_SCALE  # (pixel / 255 - mean) / std, in two passes over the batch
    batch += _PIXEL_OFFSET
    return batch


def whole_photo_box(image: Image.Image) -> Box:
    return (0.0, 0.0, float(image.width), float(image.height))
