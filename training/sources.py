"""The training photos: each photo of the data root with its class, box and clip."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from training.boxes import Box, read_yolo_box

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})


@dataclass(frozen=True)
class SourcePhoto:
    """One training photo. ``box`` is None where only the folder names the class."""

    path: Path
    label: str
    source: str
    box: Box | None = None
    clip: str | None = None


def load_manifest(manifest_path: Path) -> dict:
    return yaml.safe_load(manifest_path.read_text())


def iter_source_photos(manifest: dict, data_root: Path) -> Iterator[SourcePhoto]:
    """Every photo the manifest names, in a stable order."""
    for entry in manifest["sources"]:
        folder = data_root / entry["path"]
        if entry["layout"] == "yolo":
            yield from _yolo_photos(folder, entry)
        else:
            yield from _folder_photos(folder, entry["class"], entry["path"])
    birds = manifest.get("birds525")
    if birds:
        for label, species in birds["classes"].items():
            for name in species:
                source = f"{birds['path']}/{name}"
                yield from _folder_photos(data_root / source, label, source)


def _photo_paths(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.rglob("*") if path.suffix.lower() in PHOTO_SUFFIXES
    )


def _folder_photos(folder: Path, label: str, source: str) -> Iterator[SourcePhoto]:
    for path in _photo_paths(folder):
        yield SourcePhoto(path=path, label=label, source=source)


def _yolo_photos(folder: Path, entry: dict) -> Iterator[SourcePhoto]:
    for path in _photo_paths(folder / "images"):
        label_path = folder / "labels" / path.parent.name / f"{path.stem}.txt"
        box = read_yolo_box(label_path) if label_path.exists() else None
        if box is None:
            continue
        yield SourcePhoto(
            path=path,
            label=entry["class"],
            source=entry["path"],
            box=box,
            clip=_clip_of(path, entry["path"], entry.get("clip_frames", 1)),
        )


def _clip_of(path: Path, source: str, clip_frames: int) -> str:
    """Frames numbered N fall into clip N // clip_frames of their video."""
    number = re.search(r"(\d+)$", path.stem)
    frame = int(number[1]) if number else 0
    return f"{source}#{frame // clip_frames}"
