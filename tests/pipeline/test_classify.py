"""The second stage on the real EfficientNet-Lite0: crops, the head file, the ONNX
export the service runs, when it overrides the detector, and thread safety."""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.errors import ConfigurationError
from app.pipeline.classifier_head import ClassifierHead, Refinement
from app.pipeline.classify import MAX_CROPS_PER_PHOTO, CropClassifier
from app.pipeline.crops import crops_batch, whole_photo_box
from app.pipeline.detect import Detection, ModelInfo
from tests.factories import REPO_ROOT, dataset_photos, run_python

SHIPPED_HEAD = REPO_ROOT / "weights/satwa-classifier.pt"
SHIPPED_ONNX = REPO_ROOT / "weights/satwa-classifier.onnx"
DETECTOR = ModelInfo("satwa-detector.onnx", "0" * 64)
CLASSES = ("tiger", "parrot", "cat")


def _constant_head(label: str, probability: float) -> ClassifierHead:
    """A head that gives every crop ``probability`` for ``label`` (alpha 1: no
    zero-shot), the rest shared by the other classes."""
    rest = math.log((1 - probability) / (len(CLASSES) - 1))
    bias = np.array(
        [math.log(probability) if name == label else rest for name in CLASSES],
        dtype=np.float32,
    )
    groups = {"tiger": (292,), "parrot": (88,), "cat": (281,)}
    return ClassifierHead(
        CLASSES, np.zeros((3, 1280), np.float32), bias, groups, (), alpha=1.0
    )


def _detection(label: str, confidence: float, box=(10.0, 10.0, 120.0, 90.0)):
    return Detection(label, confidence, box, DETECTOR)


def _photo() -> Image.Image:
    return Image.new("RGB", (160, 120), (90, 140, 60))


def test_classifier_head_save_then_read_round_trips(tmp_path):
    head = _constant_head("parrot", 0.9)
    head = ClassifierHead(
        head.classes,
        head.weight,
        head.bias,
        head.groups,
        (Refinement("cockatoo", "parrot", False, (89,)),),
        alpha=0.4,
    )

    head.save(tmp_path / "head.pt")
    read = ClassifierHead.read(tmp_path / "head.pt")

    assert read.classes == CLASSES
    assert read.refinements == head.refinements
    assert read.alpha == pytest.approx(0.4)
    np.testing.assert_array_equal(read.bias, head.bias)


def test_classifier_head_json_round_trips_arrays_exactly():
    head = _constant_head("cat", 0.7)
    weight = np.random.default_rng(0).normal(size=head.weight.shape).astype(np.float32)
    head = ClassifierHead(head.classes, weight, head.bias, head.groups, (), alpha=0.3)

    read = ClassifierHead.from_json(head.to_json(), Path("head.json"))

    np.testing.assert_array_equal(read.weight, head.weight)
    np.testing.assert_array_equal(read.bias, head.bias)
    assert (read.classes, read.groups, read.alpha) == (CLASSES, head.groups, 0.3)


def test_load_detector_onnx_as_classifier_raises_configuration_error():
    detector_onnx = REPO_ROOT / "weights/satwa-detector.onnx"

    with pytest.raises(ConfigurationError, match="satwa_head"):
        CropClassifier.load(detector_onnx)


def test_load_other_suffix_raises_configuration_error(tmp_path):
    (tmp_path / "head.bin").write_bytes(b"0")

    with pytest.raises(ConfigurationError, match="expected .onnx"):
        CropClassifier.load(tmp_path / "head.bin")


def test_classifier_head_read_missing_file_raises_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="SATWA_CLASSIFIER_WEIGHTS"):
        ClassifierHead.read(tmp_path / "absent.pt")


def test_classifier_head_read_other_format_raises_configuration_error(tmp_path):
    torch.save({"format": "something-else"}, tmp_path / "other.pt")

    with pytest.raises(ConfigurationError, match="retrain"):
        ClassifierHead.read(tmp_path / "other.pt")


@pytest.mark.parametrize(
    (
        "head_label",
        "head_probability",
        "detector_label",
        "detector_confidence",
        "expected_label",
        "expected_stage",
    ),
    [
        ("parrot", 0.9, "tiger", 0.3, "parrot", "classifier"),  # detector unsure
        ("parrot", 0.9, "tiger", 0.7, "parrot", "classifier"),  # detector not sure
        ("parrot", 0.9, "tiger", 0.95, "tiger", "detector"),  # detector very sure
        ("parrot", 0.6, "tiger", 0.3, "tiger", "detector"),  # classifier unsure
        ("tiger", 0.9, "tiger", 0.3, "tiger", "detector"),  # both agree
    ],
)
def test_refine_override_rule_table(
    head_label,
    head_probability,
    detector_label,
    detector_confidence,
    expected_label,
    expected_stage,
):
    classifier = CropClassifier(_constant_head(head_label, head_probability), DETECTOR)

    (refined,) = classifier.refine(
        _photo(), [_detection(detector_label, detector_confidence)]
    )

    assert (refined.label, refined.stage) == (expected_label, expected_stage)
    if expected_stage == "detector":
        assert refined.confidence == detector_confidence
    else:
        assert refined.confidence == pytest.approx(head_probability, abs=1e-3)


def test_refine_plain_photo_without_detections_adds_none():
    classifier = CropClassifier(_constant_head("tiger", 0.99), DETECTOR)

    assert classifier.refine(Image.new("RGB", (200, 150), (200, 200, 200)), []) == []


@pytest.fixture(scope="module")
def shipped() -> CropClassifier:
    """The second stage as the service runs it (ONNX Runtime)."""
    return CropClassifier.load(SHIPPED_ONNX)


@pytest.fixture(scope="module")
def shipped_torch() -> CropClassifier:
    """The same head on PyTorch, as training measured it."""
    return CropClassifier.load(SHIPPED_HEAD)


def test_shipped_onnx_export_agrees_with_the_pytorch_head(shipped, shipped_torch):
    paths = [
        path
        for folder in (
            "tiger_pose_ultralytics",
            "negatives_cats_dogs_asirra/cats",
            "eagles_owls_web",
            "reptiles_amphibians_kaggle",
        )
        for path in dataset_photos(folder, 6)
    ]
    for path in paths:
        photo = Image.open(path).convert("RGB")
        batch = crops_batch(photo, [whole_photo_box(photo)])
        for onnx_reading, torch_reading in zip(
            shipped.network(batch), shipped_torch.network(batch), strict=True
        ):
            np.testing.assert_allclose(onnx_reading, torch_reading, atol=1e-4)
        assert shipped.refine(photo, []) == [
            detection.__class__(**{**vars(detection), "model": shipped.model})
            for detection in shipped_torch.refine(photo, [])
        ]


def test_shipped_onnx_head_is_the_pytorch_head(shipped, shipped_torch):
    np.testing.assert_array_equal(shipped.head.weight, shipped_torch.head.weight)
    assert shipped.head.refinements == shipped_torch.head.refinements
    assert shipped.head.alpha == shipped_torch.head.alpha


def test_service_with_the_second_stage_never_imports_pytorch_scipy_or_onnx():
    # Each is tens to hundreds of MB in every server process; scoring needs none.
    script = (
        "import sys\n"
        "import app.api.app\n"
        "from app.settings import Settings\n"
        "from app.services import build_scoring\n"
        "scoring = build_scoring(Settings())\n"
        "assert scoring.scorer.refiners, 'second stage loaded'\n"
        "heavy = ['torch', 'scipy', 'onnx', 'ultralytics']\n"
        "print([name for name in heavy if name in sys.modules])\n"
    )
    finished = run_python(script)

    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("folder", "detector_label", "expected_label"),
    [
        ("tiger_pose_ultralytics", "tiger", "tiger"),
        ("birds525_relevant/COCKATOO", "parrot", "cockatoo"),
    ],
)
def test_refine_shipped_head_whole_photo_without_detections_labels_it(
    shipped, folder, detector_label, expected_label
):
    (path,) = dataset_photos(folder, 1)
    photo = Image.open(path).convert("RGB")

    (found,) = shipped.refine(photo, [])

    assert found.label == expected_label
    assert found.stage == "classifier"
    assert found.box == (0.0, 0.0, float(photo.width), float(photo.height))
    assert found.model.name == "satwa-classifier.onnx"


def test_refine_shipped_head_cockatoo_crop_refines_parrot(shipped):
    (path,) = dataset_photos("birds525_relevant/COCKATOO", 1)
    photo = Image.open(path).convert("RGB")
    box = (0.0, 0.0, float(photo.width), float(photo.height))

    (refined,) = shipped.refine(photo, [_detection("parrot", 0.8, box)])

    assert (refined.label, refined.stage) == ("cockatoo", "classifier")
    assert refined.box == box


def test_refine_shipped_head_threads_agree_with_one_thread(shipped):
    photos = [
        Image.open(path).convert("RGB")
        for path in dataset_photos("negatives_cats_dogs_asirra/cats", 4)
    ]
    alone = [shipped.refine(photo, []) for photo in photos]

    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda photo: shipped.refine(photo, []), photos))

    assert [[d.label for d in found] for found in together] == [
        [d.label for d in found] for found in alone
    ]


def test_load_logs_one_info_line(caplog):
    caplog.set_level(logging.INFO, logger="app.pipeline.classify")

    CropClassifier.load(SHIPPED_ONNX)

    lines = [r for r in caplog.records if r.name == "app.pipeline.classify"]
    assert len(lines) == 1
    assert "satwa-classifier.onnx" in lines[0].getMessage()


def test_shipped_head_and_export_exist_beside_detector():
    assert Path(SHIPPED_HEAD).is_file()
    assert Path(SHIPPED_ONNX).is_file()


def test_refine_many_detections_classifies_only_the_most_confident():
    classifier = CropClassifier(_constant_head("parrot", 0.9), DETECTOR)
    detections = [
        _detection("tiger", round(0.01 * (index + 1), 2))
        for index in range(MAX_CROPS_PER_PHOTO + 4)
    ]

    refined = classifier.refine(_photo(), detections)

    assert [d.label for d in refined[:4]] == ["tiger"] * 4
    assert {d.label for d in refined[4:]} == {"parrot"}
    assert [d.box for d in refined] == [d.box for d in detections]
