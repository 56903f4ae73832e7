"""Find wildlife in an upright RGB photo: the detector protocol and its two backends.

``weights/*.onnx`` runs on ONNX Runtime (the serving default: no PyTorch in the
request path); ``weights/*.pt`` runs on Ultralytics. Both return boxes in the upright
photo's pixels. The ONNX file is an Ultralytics export with ``nms=False``: one output
of shape (1, 4 + classes, candidates) holding cx, cy, w, h in letterboxed input pixels
and one score per class; its metadata holds ``names`` and ``imgsz``.

A second stage (a crop classifier, app.pipeline.classify) plugs in as a
:class:`Refiner`; it may relabel detections and marks them ``stage="classifier"``.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PIL import Image

from app.errors import ConfigurationError
from app.offline_ultralytics import import_ultralytics_offline
from app.pipeline.onnx_session import cpu_session

logger = logging.getLogger(__name__)

LETTERBOX_FILL = 114
"""Grey of the letterbox padding, as in Ultralytics training."""

MAX_DETECTIONS = 100
"""Most boxes kept per photo after NMS."""

MAX_BOX_SIDE = 7680.0
"""Per-class offset of class-wise NMS: larger than any letterboxed side."""

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ModelInfo:
    """Which weights produced a detection: file name and SHA-256 of the file."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Detection:
    """One box: ``box`` is (x1, y1, x2, y2) in the upright photo's pixels."""

    label: str
    confidence: float
    box: Box
    model: ModelInfo
    stage: str = "detector"


class Detector(Protocol):
    """Anything that finds labelled boxes in an upright RGB photo; thread-safe."""

    model: ModelInfo
    names: tuple[str, ...]

    def detect(self, image: Image.Image) -> list[Detection]: ...


class Refiner(Protocol):
    """A later stage that may relabel or drop the detector's boxes."""

    def refine(
        self, image: Image.Image, detections: list[Detection]
    ) -> list[Detection]: ...


@dataclass(frozen=True)
class DetectorOptions:
    confidence_threshold: float = 0.25
    iou_threshold: float = 0.45
    inference_threads: int = 0


def load_detector(weights: Path, options: DetectorOptions) -> Detector:
    """The backend that fits the weights file's suffix, loaded once."""
    if not weights.is_file():
        raise ConfigurationError(
            f"Detector weights {weights} not found; expected a .onnx or .pt file "
            "(SATWA_WEIGHTS)"
        )
    started = time.perf_counter()
    if weights.suffix == ".onnx":
        detector: Detector = OnnxDetector(weights, options)
    elif weights.suffix == ".pt":
        detector = UltralyticsDetector(weights, options)
    else:
        raise ConfigurationError(
            f"Detector weights {weights} have suffix {weights.suffix!r}; expected "
            ".onnx (ONNX Runtime) or .pt (Ultralytics) (SATWA_WEIGHTS)"
        )
    logger.info(
        "Loaded detector %s (sha256 %s, %s classes) in %.2f s",
        detector.model.name,
        detector.model.sha256[:12],
        len(detector.names),
        time.perf_counter() - started,
    )
    return detector


def model_info(weights: Path) -> ModelInfo:
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return ModelInfo(weights.name, digest.hexdigest())


class OnnxDetector:
    """The exported detector on ONNX Runtime's CPU provider (thread-safe)."""

    def __init__(self, weights: Path, options: DetectorOptions) -> None:
        self._session = cpu_session(weights, options.inference_threads)
        self._input = self._session.get_inputs()[0].name
        metadata = self._session.get_modelmeta().custom_metadata_map
        self.names = _names(metadata, weights)
        input_shape = self._session.get_inputs()[0].shape
        self.imgsz = _imgsz(metadata, input_shape)
        self.stride = _stride(metadata, input_shape)
        self.options = options
        self.model = model_info(weights)

    def detect(self, image: Image.Image) -> list[Detection]:
        tensor, letterbox = _letterbox(image, self.imgsz, self.stride)
        (output,) = self._session.run(None, {self._input: tensor})
        boxes, scores, classes = _candidates(
            output[0], self.options.confidence_threshold
        )
        keep = _class_wise_nms(boxes, scores, classes, self.options.iou_threshold)
        photo_boxes = letterbox.to_photo(boxes[keep], image.size)
        return _detections(self, photo_boxes, scores[keep], classes[keep])


def _names(metadata: dict[str, str], weights: Path) -> tuple[str, ...]:
    try:
        names = ast.literal_eval(metadata["names"])
    except (KeyError, ValueError, SyntaxError) as error:
        raise ConfigurationError(
            f"{weights} has no readable 'names' metadata ({error}); expected an "
            "Ultralytics ONNX export (SATWA_WEIGHTS)"
        ) from error
    return tuple(names[index] for index in sorted(names))


def _imgsz(metadata: dict[str, str], input_shape: Sequence[object]) -> tuple[int, int]:
    if "imgsz" in metadata:
        size = ast.literal_eval(metadata["imgsz"])
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    return int(input_shape[2]), int(input_shape[3])


def _stride(metadata: dict[str, str], input_shape: Sequence[object]) -> int | None:
    """The model's stride when its input height and width are dynamic, else None."""
    if all(isinstance(side, int) for side in input_shape[2:]):
        return None
    return int(metadata.get("stride", 32))


@dataclass(frozen=True)
class _Letterbox:
    scale: float
    pad_left: int
    pad_top: int

    def to_photo(self, boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        width, height = size
        photo = boxes.copy()
        photo[:, [0, 2]] = (photo[:, [0, 2]] - self.pad_left) / self.scale
        photo[:, [1, 3]] = (photo[:, [1, 3]] - self.pad_top) / self.scale
        photo[:, [0, 2]] = photo[:, [0, 2]].clip(0, width)
        photo[:, [1, 3]] = photo[:, [1, 3]].clip(0, height)
        return photo


def _letterbox(
    image: Image.Image, imgsz: tuple[int, int], stride: int | None = None
) -> tuple[np.ndarray, _Letterbox]:
    """Resize keeping the aspect ratio and pad, as Ultralytics' LetterBox does.

    Without ``stride`` the result is exactly ``imgsz``; with it (a model with dynamic
    input dimensions) each side is padded only up to a multiple of ``stride``, which
    spares the work on padding that a square input spends on a landscape photo.
    """
    target_h, target_w = imgsz
    scale = min(target_h / image.height, target_w / image.width)
    new_w = max(1, round(image.width * scale))
    new_h = max(1, round(image.height * scale))
    pad_w, pad_h = target_w - new_w, target_h - new_h
    if stride:
        pad_w, pad_h = pad_w % stride, pad_h % stride
    pixels = np.asarray(image)
    if (new_w, new_h) != image.size:
        pixels = cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = round(pad_h / 2 - 0.1), round(pad_w / 2 - 0.1)
    canvas = np.full((new_h + pad_h, new_w + pad_w, 3), LETTERBOX_FILL, dtype=np.uint8)
    canvas[top : top + new_h, left : left + new_w] = pixels
    tensor = canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return np.ascontiguousarray(tensor), _Letterbox(scale, left, top)


def _candidates(
    output: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(4 + classes, N) head output -> xyxy boxes, best scores and classes above
    ``threshold``."""
    predictions = output.T
    class_scores = predictions[:, 4:]
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(classes)), classes]
    keep = scores > threshold
    centre_x, centre_y, width, height = predictions[keep, :4].T
    boxes = np.stack(
        [
            centre_x - width / 2,
            centre_y - height / 2,
            centre_x + width / 2,
            centre_y + height / 2,
        ],
        axis=1,
    )
    return boxes, scores[keep], classes[keep]


def _class_wise_nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Indices kept by greedy NMS run per class (boxes offset by class id)."""
    shifted = boxes + (classes[:, None] * MAX_BOX_SIDE)
    order = scores.argsort()[::-1]
    areas = (shifted[:, 2] - shifted[:, 0]) * (shifted[:, 3] - shifted[:, 1])
    keep: list[int] = []
    while order.size and len(keep) < MAX_DETECTIONS:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        overlap = _iou(shifted[best], shifted[rest], areas[best], areas[rest])
        order = rest[overlap <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def _iou(
    box: np.ndarray, others: np.ndarray, area: float, areas: np.ndarray
) -> np.ndarray:
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    return inter / np.maximum(area + areas - inter, 1e-9)


class UltralyticsDetector:
    """The .pt detector through Ultralytics' predictor (serialised: not thread-safe)."""

    def __init__(self, weights: Path, options: DetectorOptions) -> None:
        yolo_class = import_ultralytics_offline()
        self._model = yolo_class(str(weights))
        self._lock = threading.Lock()
        names = self._model.names
        self.names = tuple(names[index] for index in sorted(names))
        self.options = options
        self.model = model_info(weights)

    def detect(self, image: Image.Image) -> list[Detection]:
        with self._lock:
            (result,) = self._model.predict(
                image,
                verbose=False,
                conf=self.options.confidence_threshold,
                iou=self.options.iou_threshold,
                max_det=MAX_DETECTIONS,
            )
        boxes = result.boxes
        return _detections(self, boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls)


def _detections(
    detector: Detector, boxes: Sequence, scores: Sequence, classes: Sequence
) -> list[Detection]:
    """Rows of boxes, scores and class ids -> Detections (rounded for the answer)."""
    return [
        Detection(
            detector.names[int(label)],
            round(float(score), 4),
            tuple(round(float(value), 1) for value in box),
            detector.model,
        )
        for box, score, label in zip(boxes, scores, classes, strict=True)
    ]
