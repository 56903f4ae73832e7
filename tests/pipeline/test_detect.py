"""The detector backends: ONNX Runtime decoding, parity with Ultralytics, safety."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from app.errors import ConfigurationError, CorruptPhoto
from app.pipeline.decode import decode_photo
from app.pipeline.detect import (
    DetectorOptions,
    _class_wise_nms,
    _letterbox,
    load_detector,
)
from tests.factories import (
    BAD_INPUTS,
    REPO_ROOT,
    bad_input,
    bad_input_name,
    dataset_photos,
    encode,
)

ONNX_WEIGHTS = REPO_ROOT / "weights/satwa-detector.onnx"
PT_WEIGHTS = REPO_ROOT / "weights/satwa-detector.pt"
EVERY_CANDIDATE = DetectorOptions(confidence_threshold=0.0)
"""Keep every candidate, so comparisons have boxes to compare even for a weak model."""


@pytest.fixture(scope="module")
def onnx_detector():
    return load_detector(ONNX_WEIGHTS, EVERY_CANDIDATE)


@pytest.fixture(scope="module")
def ultralytics_detector():
    return load_detector(PT_WEIGHTS, EVERY_CANDIDATE)


def decoded(case: str) -> Image.Image:
    return decode_photo(bad_input(case), max_pixels=40_000_000, max_frames=50).image


def iou(first, second) -> float:
    x1, y1 = max(first[0], second[0]), max(first[1], second[1])
    x2, y2 = min(first[2], second[2]), min(first[3], second[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    area = (first[2] - first[0]) * (first[3] - first[1])
    area += (second[2] - second[0]) * (second[3] - second[1])
    return inter / (area - inter)


def test_nms_keeps_one_of_overlapping_boxes_per_class():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    classes = np.array([0, 0, 1])
    assert _class_wise_nms(boxes, scores, classes, 0.45).tolist() == [0, 2]


def test_letterbox_maps_boxes_back_to_photo_pixels():
    photo = Image.new("RGB", (400, 200))
    tensor, letterbox = _letterbox(photo, (320, 320))
    assert tensor.shape == (1, 3, 320, 320)
    assert (letterbox.scale, letterbox.pad_left, letterbox.pad_top) == (0.8, 0, 80)
    box = np.array([[0.0, 80.0, 320.0, 240.0]])
    assert letterbox.to_photo(box, photo.size).tolist() == [[0.0, 0.0, 400.0, 200.0]]


def test_letterbox_with_stride_pads_only_to_a_multiple_of_it():
    photo = Image.new("RGB", (480, 270))
    tensor, letterbox = _letterbox(photo, (320, 320), stride=32)
    assert tensor.shape == (1, 3, 192, 320)
    assert (letterbox.pad_left, letterbox.pad_top) == (0, 6)


def test_onnx_boxes_lie_inside_the_upright_photo(onnx_detector):
    photo = decoded("01a")
    detections = onnx_detector.detect(photo)
    assert detections
    for detection in detections:
        x1, y1, x2, y2 = detection.box
        assert 0 <= x1 <= x2 <= photo.width and 0 <= y1 <= y2 <= photo.height
        assert detection.label in onnx_detector.names
        assert detection.model.name == "satwa-detector.onnx"


@pytest.mark.slow
def test_onnx_finds_every_confident_ultralytics_detection(
    onnx_detector, ultralytics_detector
):
    # Both see the same rectangular letterbox; the runtimes' arithmetic differs a
    # little, so only confident detections (>= 0.5) must agree.
    confident = 0
    for folder in ("tiger_video_frames_yolo", "popular_animals_google"):
        for path in dataset_photos(folder, 8, seed=3):
            photo = Image.open(path).convert("RGB")
            onnx = onnx_detector.detect(photo)
            for expected in ultralytics_detector.detect(photo):
                if expected.confidence < 0.5:
                    continue
                confident += 1
                assert any(
                    found.label == expected.label
                    and found.confidence >= 0.25
                    and iou(found.box, expected.box) > 0.7
                    for found in onnx
                ), f"{path.name}: {expected}"
    assert confident >= 3


def test_detect_same_result_from_service_decode_and_raw_rgb(onnx_detector):
    raw = Image.fromarray(
        np.asarray(Image.open(BAD_INPUTS / bad_input_name("36")).convert("RGB"))
    )
    assert onnx_detector.detect(decoded("36")) == onnx_detector.detect(raw)


def test_detect_grey_photo_scored_like_its_rgb_equivalent(onnx_detector):
    rgb = Image.open(BAD_INPUTS / bad_input_name("33")).convert("RGB")
    assert onnx_detector.detect(decoded("33")) == onnx_detector.detect(rgb)


def test_detect_rgba_photo_scored_like_its_flattened_rgb(onnx_detector):
    rgba = Image.open(BAD_INPUTS / bad_input_name("34")).convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flattened = Image.alpha_composite(white, rgba).convert("RGB")
    again = decode_photo(encode(flattened, "PNG"), max_pixels=10**8, max_frames=1)
    assert onnx_detector.detect(decoded("34")) == onnx_detector.detect(again.image)


def test_detect_sideways_photo_boxes_are_upright(onnx_detector):
    # 01b holds 01c's pixels stored sideways (lossless PNG, EXIF Orientation 6).
    upright = onnx_detector.detect(decoded("01c"))
    assert upright
    assert onnx_detector.detect(decoded("01b")) == upright


def test_detect_from_many_threads_equals_one_thread(onnx_detector):
    photos = [decoded(case) for case in ("01c", "28a", "31a", "36")] * 4
    sequential = [onnx_detector.detect(photo) for photo in photos]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(onnx_detector.detect, photos)) == sequential


def test_ultralytics_backend_is_offline(ultralytics_detector):
    from ultralytics.utils import SETTINGS

    assert os.environ["YOLO_OFFLINE"] == "1"
    assert SETTINGS["sync"] is False


def test_ultralytics_backend_leaves_pillow_open_alone(ultralytics_detector):
    # Ultralytics replaces Image.open with a wrapper that installs pi-heif on a file
    # Pillow cannot identify; the service keeps Pillow's own, so a corrupt HEIC photo
    # is refused like any other corrupt photo.
    assert Image.open.__module__ == "PIL.Image"
    with pytest.raises(CorruptPhoto, match="HEIC"):
        decode_photo(bad_input("15"), max_pixels=10**8, max_frames=10)


@pytest.mark.parametrize("name", ["missing.onnx", "satwa-detector.tflite"])
def test_load_detector_unusable_weights_names_setting(tmp_path, name):
    weights = tmp_path / name
    if name.endswith(".tflite"):
        weights.write_bytes(b"x")
    with pytest.raises(ConfigurationError, match="SATWA_WEIGHTS"):
        load_detector(weights, EVERY_CANDIDATE)
