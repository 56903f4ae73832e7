"""Factories for test photos, listings and paths to the shared test material."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
BAD_INPUTS = Path(
    os.environ.get("SATWA_BAD_INPUTS_DIR", REPO_ROOT / "../shared/bad-inputs/files")
).resolve()
"""../shared/bad-inputs/files, or SATWA_BAD_INPUTS_DIR."""
DATASETS = Path(
    os.environ.get("SATWA_DATASETS_DIR", REPO_ROOT / "../shared/datasets")
).resolve()
"""../shared/datasets, or SATWA_DATASETS_DIR."""


def bad_input(name: str) -> bytes:
    """The bytes of one file of ../shared/bad-inputs/files by its name prefix."""
    matches = list(BAD_INPUTS.glob(f"{name}*"))
    assert matches, f"no file {name}* in {BAD_INPUTS} (SATWA_BAD_INPUTS_DIR)"
    return min(matches).read_bytes()


def bad_input_name(name: str) -> str:
    return min(BAD_INPUTS.glob(f"{name}*")).name


def dataset_photos(folder: str, count: int, seed: int = 0) -> list[Path]:
    """``count`` real photos of one dataset folder, the same ones on every run."""
    paths = sorted(
        p
        for p in (DATASETS / folder).rglob("*")
        if p.suffix.lower() in {".jpg", ".png"}
    )
    assert len(paths) >= count, f"{DATASETS / folder} holds {len(paths)} photos"
    return random.Random(seed).sample(paths, count)


def scene(width: int = 320, height: int = 240, seed: int = 1) -> Image.Image:
    """A photo-like RGB picture: a colour gradient with shapes and noise."""
    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.merge(
        "RGB",
        [
            image.getchannel(0),
            image.getchannel(0).rotate(90).resize((width, height)),
            Image.effect_noise((width, height), 40),
        ],
    )
    for _ in range(6):
        x, y = rng.randrange(width), rng.randrange(height)
        colour = tuple(rng.randrange(256) for _ in range(3))
        image.paste(
            colour, (x, y, min(width, x + width // 4), min(height, y + height // 5))
        )
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_with_orientation(image: Image.Image, orientation: int) -> bytes:
    """The JPEG a camera writes: pixels stored turned, with the EXIF tag to undo it."""
    stored = (
        image.transpose(_STORE_TRANSPOSE[orientation]) if orientation > 1 else image
    )
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


# How a camera stores pixels for each EXIF orientation: the inverse of the transpose
# that turns them upright.
_STORE_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def listing_form(
    *,
    platform: str = "facebook",
    account: str = "seller.one",
    listing_url: str = "https://www.facebook.com/marketplace/item/1",
    **extra: str,
) -> dict[str, str]:
    return {
        "platform": platform,
        "account": account,
        "listing_url": listing_url,
        **extra,
    }


def photo_files(photos: Sequence[tuple[str, bytes]]) -> list[tuple[str, tuple]]:
    """The ``files=`` argument of an httpx multipart POST."""
    return [
        ("photos", (name, data, "application/octet-stream")) for name, data in photos
    ]


def unique_urls(prefix: str = "https://shop.example/listing/") -> Iterator[str]:
    number = 0
    while True:
        number += 1
        yield f"{prefix}{number}"


def noisy_png(width: int, height: int) -> bytes:
    """A PNG that hardly compresses: about 3 bytes per pixel."""
    channels = [Image.effect_noise((width, height), 90) for _ in range(3)]
    return encode(Image.merge("RGB", channels), "PNG")


def multi_page_tiff(*sizes: tuple[int, int]) -> bytes:
    """A deflate-compressed TIFF with one blank page per size, in order."""
    first, *rest = (Image.new("RGB", size) for size in sizes)
    return encode(
        first, "TIFF", save_all=True, append_images=rest, compression="tiff_deflate"
    )


def run_python(script: str) -> subprocess.CompletedProcess:
    """``script`` in a fresh interpreter in the repository (process-wide state such
    as imported modules and memory limits stays out of the test process)."""
    return subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
