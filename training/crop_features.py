"""Crop features for the second stage: EfficientNet-Lite0 features of every photo.

Each photo is cut to its real box where it has one, else taken whole (class-folder
photos mostly show one animal filling the frame), through the square crop the service
uses (app.pipeline.classify.square_crop). Features, ImageNet probabilities and the
photo's pHash are cached by photo path in ``<work_dir>/features.npz``; photos are split
with the detector's own pHash-grouped splits (training.splits).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from app.pipeline.classify import FeatureExtractor
from app.pipeline.crops import CROP_MARGIN, crops_batch
from app.pipeline.imagenet import INPUT_SIZE
from training.sources import SourcePhoto, iter_source_photos, load_manifest
from training.splits import assign_splits, photo_phash

logger = logging.getLogger(__name__)

CROP_RECIPE = f"square grey-padded, margin {CROP_MARGIN}, {INPUT_SIZE} px, lite0"
"""Stored with the cache; a cache made with another recipe is thrown away."""


@dataclass(frozen=True)
class FeatureSet:
    """Features of labelled crops: one row per photo."""

    paths: list[str]
    labels: list[str]
    splits: list[str]
    features: np.ndarray  # (N, 1280)
    imagenet: np.ndarray  # (N, 1000) softmax probabilities

    def subset(self, split: str) -> FeatureSet:
        rows = [row for row, name in enumerate(self.splits) if name == split]
        return FeatureSet(
            [self.paths[row] for row in rows],
            [self.labels[row] for row in rows],
            [split] * len(rows),
            self.features[rows],
            self.imagenet[rows],
        )


# Limitation: class-folder photos are taken whole, while the service classifies the
# detector's boxes; only the tiger sets train the head on real, tight boxes.
def crop_box(photo: SourcePhoto, size: tuple[int, int]) -> tuple[float, ...]:
    """The real box in pixels, or the whole photo."""
    width, height = size
    if photo.box is None:
        return (0.0, 0.0, float(width), float(height))
    x1, y1, x2, y2 = photo.box
    return (x1 * width, y1 * height, x2 * width, y2 * height)


def extract_features(
    photos: Sequence[SourcePhoto], extractor: FeatureExtractor, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    features, imagenet = [], []
    for start in range(0, len(photos), batch_size):
        batch = [_photo_batch(photo) for photo in photos[start : start + batch_size]]
        pooled, probabilities = extractor(np.concatenate(batch))
        features.append(pooled)
        imagenet.append(probabilities)
        logger.info("Features: %d of %d photos", start + len(batch), len(photos))
    return np.concatenate(features), np.concatenate(imagenet)


def _photo_batch(photo: SourcePhoto) -> np.ndarray:
    with Image.open(photo.path) as opened:
        image = opened.convert("RGB")
    return crops_batch(image, [crop_box(photo, image.size)])


def build_features(config: dict, work_dir: Path, batch_size: int = 32) -> FeatureSet:
    """Features of every manifest photo with its split, cached by photo path."""
    photos = list(
        iter_source_photos(
            load_manifest(Path(config["manifest"])), Path(config["data_root"])
        )
    )
    cache_path = work_dir / "features.npz"
    cached = _read_cache(cache_path)
    missing = [photo for photo in photos if str(photo.path) not in cached]
    if missing:
        logger.info("Extracting features of %d photos", len(missing))
        features, imagenet = extract_features(missing, FeatureExtractor(), batch_size)
        for row, photo in enumerate(missing):
            cached[str(photo.path)] = (
                features[row],
                imagenet[row],
                photo_phash(photo.path),
            )
        _write_cache(cache_path, cached)
    rows = [cached[str(photo.path)] for photo in photos]
    splits = assign_splits(photos, [int(row[2]) for row in rows])
    return FeatureSet(
        [str(photo.path) for photo in photos],
        [photo.label for photo in photos],
        splits,
        np.stack([row[0] for row in rows]).astype(np.float32),
        np.stack([row[1] for row in rows]).astype(np.float32),
    )


def _read_cache(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    if not path.exists():
        return {}
    stored = np.load(path)
    if "recipe" not in stored.files or str(stored["recipe"]) != CROP_RECIPE:
        logger.info("Feature cache %s was made another way; extracting anew", path)
        return {}
    return {
        str(key): (features, imagenet, int(phash))
        for key, features, imagenet, phash in zip(
            stored["paths"], stored["features"], stored["imagenet"], stored["phashes"]
        )
    }


def _write_cache(path: Path, cached: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(cached)
    np.savez(
        path,
        recipe=np.array(CROP_RECIPE),
        paths=np.array(keys),
        features=np.stack([cached[key][0] for key in keys]).astype(np.float16),
        imagenet=np.stack([cached[key][1] for key in keys]).astype(np.float32),
        phashes=np.array([cached[key][2] for key in keys], dtype=np.uint64),
    )
