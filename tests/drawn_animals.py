"""Pillow-drawn stand-ins for class-folder photos, for training tests of seconds.

Each class has its own look (colours and shapes) over random noise, so a linear head on
ImageNet features separates them, and no two photos are near-duplicates by pHash.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

PHOTO_SIZE = 128

_LOOKS = {
    "tiger": ((230, 120, 20), (10, 10, 10), "stripes"),
    "parrot": ((40, 170, 60), (220, 30, 30), "triangles"),
    "cat": ((150, 150, 150), (250, 250, 250), "circles"),
}
"""Background and shape colour, and shape, of each drawable class."""

DRAWN_CLASSES = tuple(_LOOKS)


def drawn_animal(label: str, seed: int) -> Image.Image:
    """One photo of ``label`` (a key of ``DRAWN_CLASSES``), different for each seed."""
    rng = random.Random(f"{label}:{seed}")
    background, ink, shape = _LOOKS[label]
    noise = np.random.default_rng(rng.randrange(1 << 30)).integers(
        -60, 60, (PHOTO_SIZE, PHOTO_SIZE, 3)
    )
    pixels = (np.array(background) + noise).clip(0, 255).astype(np.uint8)
    photo = Image.fromarray(pixels, "RGB")
    _draw_shapes(ImageDraw.Draw(photo), shape, ink, rng)
    return photo


def _draw_shapes(draw: ImageDraw.ImageDraw, shape: str, ink, rng) -> None:
    for _ in range(rng.randint(4, 9)):
        x, y = rng.randrange(PHOTO_SIZE), rng.randrange(PHOTO_SIZE)
        size = rng.randint(8, 30)
        if shape == "stripes":
            draw.line(
                (x, 0, x + rng.randint(-30, 30), PHOTO_SIZE), ink, width=size // 3
            )
        elif shape == "triangles":
            draw.polygon([(x, y), (x + size, y), (x + size // 2, y - size)], ink)
        else:
            draw.ellipse((x, y, x + size, y + size), ink)


def write_class_folders(root: Path, per_class: int) -> dict[str, Path]:
    """``root/<class>/<class>_NN.png`` for every drawable class; returns the folders."""
    folders = {}
    for label in DRAWN_CLASSES:
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for seed in range(per_class):
            drawn_animal(label, seed).save(folder / f"{label}_{seed:02d}.png")
        folders[label] = folder
    return folders
