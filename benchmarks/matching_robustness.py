"""Robustness of repost matching: plain whole-photo pHash against Satwa's matcher.

For real photos from ../shared/datasets, each transformation a repost makes (JPEG
re-compression, resizing, a crop of up to 10 %, caption text and a watermark, a border,
a letterbox, mirroring, a phone screenshot) is applied and the copy is compared with
the original. Unrelated pairs (every ordered pair of different photos) give the false
matches. For each method the threshold is the largest Hamming distance whose
false-match rate over the unrelated pairs is at most 1 in 10,000; the share of copies
found at that threshold is printed per transformation, side by side.

Run from the repository root:

    python benchmarks/matching_robustness.py --photos 600

The datasets hold a few copies of the same picture (the same stock photo in two
folders, or cropped differently); a photo within DATASET_DUPLICATE_DISTANCE bits of an
earlier sampled photo is dropped before the pairs are formed, and the count printed, so
that every pair counted as unrelated is.

Detection crops are not used here (no detector runs), so Satwa's figures come from the
whole photo, the photo found inside borders and screenshots, the corner regions and the
mirror images.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.pipeline.hashing import region_hashes
from app.pipeline.matching import CORROBORATING_PAIRS, CORROBORATION_SLACK
from app.settings import Settings
from tests import reposts

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
VIDEO_FOLDERS = ("tiger_video_frames_yolo", "tiger_pose_ultralytics")
"""Left out: neighbouring video frames are near-duplicates, not unrelated photos."""
MAX_FALSE_MATCH_RATE = 1e-4
DATASET_DUPLICATE_DISTANCE = 4
"""Photos this close are the same picture: unrelated photos practically never are."""

Transform = Callable[[Image.Image, random.Random], Image.Image]
TRANSFORMS: dict[str, Transform] = {
    "recompress": lambda p, r: reposts.recompressed(p, r.randint(15, 45)),
    "resize": lambda p, r: reposts.resized(p, r.uniform(0.3, 0.8)),
    "crop<=10%": lambda p, r: reposts.cropped(p, r.uniform(0.03, 0.10), r.random()),
    "caption": lambda p, r: reposts.captioned(p),
    "border": lambda p, r: reposts.bordered(
        p, r.uniform(0.04, 0.15), tuple(r.randint(0, 255) for _ in range(3))
    ),
    "letterbox": lambda p, r: reposts.letterboxed(p, r.choice((1.0, 16 / 9, 9 / 16))),
    "mirror": lambda p, r: reposts.mirrored(p),
    "screenshot": lambda p, r: reposts.phone_screenshot(p, dark=r.random() < 0.3),
}


def main() -> None:
    options = _parse_options()
    rng = random.Random(options.seed)
    paths = _sample_photos(Path(options.datasets), options.photos, rng)
    started = time.perf_counter()
    photos = [Image.open(path).convert("RGB") for path in paths]
    photos, dropped = _without_duplicates(photos)
    stored = [_stored_hashes(photo) for photo in photos]
    queries = [_query_hashes(photo) for photo in photos]
    plain = np.array([hashes[0] for hashes in stored], dtype=np.uint64)
    print(f"{dropped} sampled photos dropped as copies of another sampled photo")

    thresholds = _thresholds(stored, queries, plain)
    print(f"{len(photos)} photos from {options.datasets}, seed {options.seed}")
    print(f"{len(photos) * (len(photos) - 1):,} unrelated ordered pairs")
    for method, (threshold, rate) in thresholds.items():
        print(f"{method}: threshold {threshold} bits, false-match rate {rate:.2e}")
    print()
    print(
        f"{'transformation':<14} {'plain pHash':>12} {'Satwa':>8} {'Satwa default':>14}"
    )
    for name, transform in TRANSFORMS.items():
        found = _recall(photos, stored, transform, thresholds, rng)
        print(f"{name:<14} {found[0]:>11.1%} {found[1]:>8.1%} {found[2]:>14.1%}")
    print(f"\n{time.perf_counter() - started:.0f} s")


def _parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--datasets", default=str(DATASETS))
    return parser.parse_args()


def _sample_photos(root: Path, count: int, rng: random.Random) -> list[Path]:
    paths = sorted(
        path
        for path in root.rglob("*")
        if path.suffix.lower() in {".jpg", ".jpeg", ".png"}
        and not any(folder in path.parts for folder in VIDEO_FOLDERS)
    )
    return rng.sample(paths, min(count, len(paths)))


def _without_duplicates(photos: list[Image.Image]) -> tuple[list[Image.Image], int]:
    kept, kept_queries = [], []
    for photo in photos:
        stored = np.array(_stored_hashes(photo), dtype=np.uint64)
        if all(
            _min_distance(query, stored) > DATASET_DUPLICATE_DISTANCE
            for query in kept_queries
        ):
            kept.append(photo)
            kept_queries.append(_query_hashes(photo))
    return kept, len(photos) - len(kept)


def _stored_hashes(photo: Image.Image) -> list[int]:
    hashes = region_hashes(photo, [])
    return [h.value for h in hashes if not h.mirrored] or [0]


def _query_hashes(photo: Image.Image) -> np.ndarray:
    return np.array([h.value for h in region_hashes(photo, [])] or [0], np.uint64)


def _min_distance(query: np.ndarray, stored: np.ndarray) -> int:
    return int(np.bitwise_count(query[:, None] ^ stored[None, :]).min())


def _thresholds(stored, queries, plain) -> dict[str, tuple[int, float]]:
    count = len(stored)
    stored_arrays = [np.array(hashes, dtype=np.uint64) for hashes in stored]
    satwa = np.array(
        [
            [_satwa_distances(query, hashes) for hashes in stored_arrays]
            for query in queries
        ]
    )
    plain_matrix = np.bitwise_count(plain[:, None] ^ plain[None, :]).astype(np.int64)
    off_diagonal = ~np.eye(count, dtype=bool)
    unrelated = satwa[off_diagonal]
    default = Settings().match_max_distance
    return {
        "plain pHash": _threshold(
            plain_matrix[off_diagonal][:, None] <= _thresholds_column()
        ),
        "Satwa": _threshold(
            _satwa_matches(unrelated[:, None, :], _thresholds_column())
        ),
        "Satwa at service default": (
            default,
            float(_satwa_matches(unrelated, default).mean()),
        ),
    }


def _thresholds_column() -> np.ndarray:
    return np.arange(33)[None, :]


def _satwa_distances(query: np.ndarray, stored: np.ndarray) -> tuple[int, int]:
    """Best pair distance and the distance within which CORROBORATING_PAIRS lie."""
    distances = np.sort(np.bitwise_count(query[:, None] ^ stored[None, :]).ravel())
    corroborated = distances[CORROBORATING_PAIRS - 1] if len(distances) >= 3 else 64
    return int(distances[0]), int(corroborated)


def _satwa_matches(distances: np.ndarray, threshold) -> np.ndarray:
    """The Matcher's rule: best pair within the threshold, or enough pairs just over."""
    best, corroborated = distances[..., 0], distances[..., 1]
    return (best <= threshold) | (corroborated <= threshold + CORROBORATION_SLACK)


def _threshold(matched: np.ndarray) -> tuple[int, float]:
    """Largest threshold (column of ``matched``) whose false-match rate stays within
    the limit."""
    best = (-1, 0.0)
    for threshold, rate in enumerate(matched.mean(axis=0)):
        if rate <= MAX_FALSE_MATCH_RATE:
            best = (threshold, float(rate))
    return best


def _recall(photos, stored, transform, thresholds, rng) -> tuple[float, ...]:
    """Share of copies found: plain pHash, Satwa, Satwa at the service default."""
    hits = np.zeros(3)
    for photo, hashes in zip(photos, stored, strict=True):
        query = _query_hashes(transform(photo, rng))
        original = np.array(hashes, dtype=np.uint64)
        satwa = np.array(_satwa_distances(query, original))
        hits += (
            _min_distance(query[:1], original[:1]) <= thresholds["plain pHash"][0],
            _satwa_matches(satwa, thresholds["Satwa"][0]),
            _satwa_matches(satwa, thresholds["Satwa at service default"][0]),
        )
    return tuple(hits / len(photos))


if __name__ == "__main__":
    main()
