"""Replay when the second stage overrides the detector, under several thresholds.

For each photo of a split the detector runs once and the classifier reads its boxes
once; the override rule of app.pipeline.classify (a different class at mix >= ``over``
unless the detector gave >= ``unsure``) is then replayed for every pair of thresholds.
The shipped thresholds are constants there; these trials show whether a new detector
calls for others. Refinements and whole-photo labels are left out: they do not depend
on these two thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from app.pipeline.classify import MAX_CROPS_PER_PHOTO, CropClassifier
from app.pipeline.detect import Detector

OVER_GRID = (0.6, 0.7, 0.8, 0.9)
UNSURE_GRID = (0.5, 0.7, 0.9, 1.01)


@dataclass(frozen=True)
class BoxReading:
    """One box: the detector's class and confidence, the classifier's class and mix."""

    detector_label: str
    detector_confidence: float
    classifier_label: str
    classifier_probability: float


def read_boxes(
    paths: Sequence[str], detector: Detector, classifier: CropClassifier
) -> list[list[BoxReading]]:
    """The most confident boxes of each photo, read by both stages."""
    photos = []
    for path in paths:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
        detections = sorted(detector.detect(image), key=lambda d: -d.confidence)
        detections = detections[:MAX_CROPS_PER_PHOTO]
        verdicts = classifier.classify(image, [d.box for d in detections])
        photos.append(
            [
                BoxReading(d.label, d.confidence, v.label, v.probability)
                for d, v in zip(detections, verdicts, strict=True)
            ]
        )
    return photos


def top_label(boxes: Sequence[BoxReading], over: float, unsure: float) -> str | None:
    """The photo's top label once the override rule has run on every box."""
    labelled = [
        (box.classifier_probability, box.classifier_label)
        if box.classifier_label != box.detector_label
        and box.classifier_probability >= over
        and box.detector_confidence < unsure
        else (box.detector_confidence, box.detector_label)
        for box in boxes
    ]
    return max(labelled)[1] if labelled else None


def override_trials(
    photos: Sequence[Sequence[BoxReading]],
    truth: Sequence[str],
    protected: set[str],
    lookalikes: set[str],
) -> list[dict]:
    """Top-label accuracy, changes and look-alike alarms for each threshold pair."""
    alone = [top_label(boxes, over=2.0, unsure=0.0) for boxes in photos]
    trials = []
    for over in OVER_GRID:
        for unsure in UNSURE_GRID:
            both = [top_label(boxes, over, unsure) for boxes in photos]
            trials.append(
                {
                    "over": over,
                    "unsure": unsure,
                    "accuracy": round(_share(both, truth), 3),
                    "wrong_to_right": _count(alone, both, truth, before=False),
                    "right_to_wrong": _count(alone, both, truth, before=True),
                    "lookalike_protected": sum(
                        label in lookalikes and guess in protected
                        for guess, label in zip(both, truth)
                    ),
                }
            )
    return [{"detector_alone_accuracy": round(_share(alone, truth), 3)}, *trials]


def _share(labels: Sequence[str | None], truth: Sequence[str]) -> float:
    return sum(a == b for a, b in zip(labels, truth)) / max(1, len(truth))


def _count(alone, both, truth, *, before: bool) -> int:
    return sum(
        (a == t) == before and (b == t) != before for a, b, t in zip(alone, both, truth)
    )


def trials_on(
    paths: Sequence[str],
    truth: Sequence[str],
    head_path: Path,
    detector: Detector,
    sets: tuple[set[str], set[str]],
) -> list[dict]:
    """Read the boxes of ``paths`` and replay the thresholds on them."""
    classifier = CropClassifier.load(head_path)
    lookalikes, protected = sets
    return override_trials(
        read_boxes(paths, detector, classifier), truth, protected, lookalikes
    )
