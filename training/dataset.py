"""Build an Ultralytics dataset folder from the manifest: splits, boxes, label files.

Photos are linked, never copied, so the third-party photos stay in the data root.
"""

from __future__ import annotations

import csv
import json
import logging
import random
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from training.boxes import Box, auto_boxes
from training.sources import SourcePhoto, iter_source_photos, load_manifest
from training.splits import assign_splits, photo_phash

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DatasetEntry:
    photo: SourcePhoto
    split: str
    box: Box
    box_origin: str  # "real" or "cam"


def class_names(taxonomy_path: Path) -> list[str]:
    """Detector class names in the order of the taxonomy file (class id = position)."""
    return list(yaml.safe_load(taxonomy_path.read_text())["classes"])


def select_entries(
    photos: Sequence[SourcePhoto],
    splits: Sequence[str],
    caps: dict[str, int],
    seed: int,
) -> list[tuple[SourcePhoto, str]]:
    """Keep at most ``caps[split]`` photos per class in each capped split."""
    by_key: dict[tuple[str, str], list[SourcePhoto]] = defaultdict(list)
    for photo, split in zip(photos, splits):
        by_key[(photo.label, split)].append(photo)
    chosen = []
    for (label, split), members in sorted(by_key.items()):
        random.Random(f"{seed}:{label}:{split}").shuffle(members)
        chosen.extend((photo, split) for photo in members[: caps.get(split, None)])
    return chosen


def _cached_boxes(photos: Sequence[SourcePhoto], cache_path: Path) -> dict[str, Box]:
    cache: dict[str, Box] = {}
    if cache_path.exists():
        cache = {
            key: tuple(value)
            for key, value in json.loads(cache_path.read_text()).items()
        }
    missing = [photo.path for photo in photos if str(photo.path) not in cache]
    if missing:
        logger.info("Making CAM boxes for %d photos", len(missing))
        cache.update(zip(map(str, missing), auto_boxes(missing)))
        cache_path.write_text(json.dumps(cache))
    return cache


def build_dataset(config: dict, work_dir: Path) -> tuple[Path, list[DatasetEntry]]:
    """Write ``work_dir/dataset`` (images linked, labels written) and its data.yaml."""
    names = class_names(Path(config["taxonomy"]))
    photos = list(
        iter_source_photos(
            load_manifest(Path(config["manifest"])), Path(config["data_root"])
        )
    )
    splits = assign_splits(photos, [photo_phash(photo.path) for photo in photos])
    caps = {"train": config["max_train_per_class"], "val": config["max_val_per_class"]}
    chosen = select_entries(photos, splits, caps, config["seed"])

    work_dir.mkdir(parents=True, exist_ok=True)
    unboxed = [photo for photo, _ in chosen if photo.box is None]
    cam = _cached_boxes(unboxed, work_dir.parent / "cam_boxes.json")
    entries = [
        DatasetEntry(
            photo,
            split,
            photo.box or cam[str(photo.path)],
            "real" if photo.box else "cam",
        )
        for photo, split in chosen
    ]
    root = work_dir / "dataset"
    shutil.rmtree(root, ignore_errors=True)
    _write_files(root, entries, names)
    data_yaml = root / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump(
            {
                "path": str(root.resolve()),
                "train": "images/train",
                "val": "images/val",
                "test": "images/test",
                "names": dict(enumerate(names)),
            }
        )
    )
    _write_manifest(work_dir / "dataset_manifest.csv", entries)
    return data_yaml, entries


def _write_files(root: Path, entries: Sequence[DatasetEntry], names: list[str]) -> None:
    for split in SPLITS:
        for kind in ("images", "labels"):
            (root / kind / split).mkdir(parents=True, exist_ok=True)
    for number, entry in enumerate(entries):
        stem = f"{number:05d}_{entry.photo.label}"
        image_link = root / "images" / entry.split / f"{stem}{entry.photo.path.suffix}"
        if image_link.is_symlink() or image_link.exists():
            image_link.unlink()
        image_link.symlink_to(entry.photo.path.resolve())
        x1, y1, x2, y2 = entry.box
        label_line = (
            f"{names.index(entry.photo.label)} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} "
            f"{x2 - x1:.6f} {y2 - y1:.6f}\n"
        )
        (root / "labels" / entry.split / f"{stem}.txt").write_text(label_line)


def _write_manifest(path: Path, entries: Sequence[DatasetEntry]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["split", "label", "source", "photo", "box_origin", "box"])
        for entry in entries:
            writer.writerow(
                [
                    entry.split,
                    entry.photo.label,
                    entry.photo.source,
                    entry.photo.path.name,
                    entry.box_origin,
                    " ".join(f"{value:.4f}" for value in entry.box),
                ]
            )
