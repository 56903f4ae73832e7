"""The model shipped in weights/ finds the animals of test-split photos it never saw.

The photos are the first test-split photos of a few classes, read from the dataset
manifest written beside the weights; the bars sit below the figures in MODEL_CARD.md,
so a model that regresses, or a serving path that garbles pixels, fails here.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from app.pipeline.scoring import ReceivedPhoto, ScoredPhoto
from app.services import build_scoring
from app.settings import Settings
from tests.factories import DATASETS, REPO_ROOT

MANIFEST = REPO_ROOT / "weights" / "satwa-detector.run" / "dataset_manifest.csv"
CLASSES = ("tiger", "raptor", "owl", "parrot", "snake", "dog", "cat")
PHOTOS_PER_CLASS = 6
DETECTOR_ALONE_BAR = 0.45
"""The card gives 0.23-0.87 top-label accuracy for these classes (mean 0.62)."""
PIPELINE_BAR = 0.7
"""The card gives 0.77 with the second stage over all classes, more for these."""


def _test_photos() -> list[tuple[Path, str]]:
    with MANIFEST.open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    chosen: list[tuple[Path, str]] = []
    taken: Counter[str] = Counter()
    for row in rows:
        if row["label"] in CLASSES and taken[row["label"]] < PHOTOS_PER_CLASS:
            taken[row["label"]] += 1
            chosen.append((_locate(row["source"], row["photo"]), row["label"]))
    return chosen


def _locate(source: str, photo: str) -> Path:
    direct = DATASETS / source / photo
    if direct.exists():
        return direct
    return next((DATASETS / source).rglob(photo))


def _top_labels(settings: Settings) -> list[tuple[str, str]]:
    scorer = build_scoring(settings).scorer
    labels = []
    for path, truth in _test_photos():
        result = scorer.score(ReceivedPhoto.from_bytes(path.name, path.read_bytes()))
        assert isinstance(result, ScoredPhoto), path
        best = max(result.detections, key=lambda d: d.confidence, default=None)
        labels.append((truth, best.label if best else "(none)"))
    return labels


def _accuracy(labels: list[tuple[str, str]]) -> float:
    return sum(truth == label for truth, label in labels) / len(labels)


@pytest.mark.slow
def test_shipped_detector_alone_test_photos_mostly_right_label():
    settings = Settings(classifier_weights=None)

    labels = _top_labels(settings)

    assert len(labels) == len(CLASSES) * PHOTOS_PER_CLASS
    assert _accuracy(labels) >= DETECTOR_ALONE_BAR, labels


@pytest.mark.slow
def test_shipped_pipeline_test_photos_mostly_right_label():
    labels = _top_labels(Settings())

    assert _accuracy(labels) >= PIPELINE_BAR, labels
