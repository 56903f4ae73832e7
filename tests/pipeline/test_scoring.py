"""Scoring one photo: one decode feeds detector and hasher; tiny photos do not crash."""

from __future__ import annotations

import pytest

from app.errors import PhotoOverLimit
from app.pipeline.detect import DetectorOptions, load_detector
from app.pipeline.scoring import PhotoScorer, ReceivedPhoto, RejectedPhoto, ScoredPhoto
from app.settings import Settings
from tests.factories import REPO_ROOT, bad_input, bad_input_name


@pytest.fixture(scope="module")
def scorer():
    # Threshold 0 keeps every candidate box, so crops are cut even from tiny photos.
    detector = load_detector(
        REPO_ROOT / "weights/satwa-detector.onnx",
        DetectorOptions(confidence_threshold=0.0),
    )
    return PhotoScorer(detector, Settings())


def received(case: str) -> ReceivedPhoto:
    return ReceivedPhoto.from_bytes(bad_input_name(case), bad_input(case))


@pytest.mark.parametrize("case", ["26", "27", "24a", "12"])
def test_score_tiny_flat_and_animated_photos_gives_defined_answer(scorer, case):
    result = scorer.score(received(case))
    assert isinstance(result, ScoredPhoto)
    assert result.detections
    assert len(result.phash) == 16


@pytest.mark.parametrize("case", ["24a", "24b"])
def test_score_single_colour_photo_gets_no_region_hash(scorer, case):
    assert scorer.score(received(case)).hashes == []


def test_score_keeps_bytes_of_scored_photo_only(scorer):
    kept: list[bytes] = []
    scorer.score(received("01c"), keep=kept.append)
    scorer.score(received("18"), keep=kept.append)
    assert kept == [bad_input("01c")]


def test_score_refused_photo_is_rejected_with_file_name():
    refusal = PhotoOverLimit("Photo is too large", setting="S", limit=1, got=2)
    photo = ReceivedPhoto("big.jpg", "0" * 64, 2, None, refusal)
    detector = load_detector(
        REPO_ROOT / "weights/satwa-detector.onnx", DetectorOptions()
    )
    result = PhotoScorer(detector, Settings()).score(photo)
    assert isinstance(result, RejectedPhoto)
    assert result.error.message.startswith("'big.jpg': ")
